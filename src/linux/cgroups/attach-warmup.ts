// Moving a process into a cgroup takes the kernel's cgroup_threadgroup_rwsem for writing, and the
// first such move after a quiet spell waits for an RCU grace period: 10-15 ms on this project's
// machines, while moves within about one grace period of the last one do not wait (DESIGN.md,
// fact 11). On cgroup v1 the container's first process moves itself in through the tasks files,
// which skips that lock (ContainerCgroup.selfEntry); on v2 cbox moves it, just before its
// release, on the start's critical path. So there cbox starts that wait early, in the background:
// it "moves" itself into the cgroup it is already in. The kernel takes the lock, finds nothing to
// move, and the real move a few milliseconds later finds the grace period passed. Nothing changes
// place; if the write is refused (a user's cgroup, a cgroup namespace), nothing is gained and
// nothing is lost.
import { writeFile } from "node:fs";
import { unifiedPath, type CgroupLayout } from "./detect.ts";

/** Starts the write of this process's pid into its own cgroup.procs (cgroup v2), without waiting for it. */
export function warmCgroupAttach(layout: CgroupLayout, procCgroup: string): void {
  const file = ownProcsFile(layout, procCgroup);
  // One call, so that open and write both happen on Bun's I/O thread: this thread stays busy
  // with the start, and a continuation scheduled on it would run only after the real move.
  // (The callback form: node:fs/promises costs ~0.35 ms to load; Bun.write writes on this thread.)
  if (file) writeFile(file, String(process.pid), { flag: "r+" }, () => {}); // r+: no O_CREAT, no O_TRUNC
}

/** This process's cgroup.procs on cgroup v2; undefined on other layouts. */
export function ownProcsFile(layout: CgroupLayout, procCgroup: string): string | undefined {
  const own = layout.version === 2 ? unifiedPath(procCgroup) : undefined;
  return own === undefined ? undefined : `${layout.unified}${own === "/" ? "" : own}/cgroup.procs`;
}
