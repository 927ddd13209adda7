// Freezing a cgroup's processes (pause) and thawing them: v1's freezer.state or v2's cgroup.freeze.
// Which one a container has is told by the files its cgroups hold: only a v1 freezer cgroup has
// freezer.state, only a v2 cgroup has cgroup.freeze, so no mount table is needed.
import { CboxError } from "../../errors.ts";
import { sleepMs } from "../../sys/sleep.ts";
import { cgroupfs, type CgroupFs } from "./fs.ts";

/** Freezes (or thaws) every process in the cgroups at paths; waits until it is done (at most a second). */
export function setFrozen(paths: string[], frozen: boolean, fs: CgroupFs = cgroupfs): void {
  const control = freezerControl(paths, fs);
  if (!control) throw new CboxError("the container's cgroup has no freezer (v1's freezer controller, or cgroup v2): pause is not possible");
  fs.write(control.file, frozen ? control.on : control.off);
  for (let i = 0; i < 1000 && isFrozen(paths, fs) !== frozen; i++) sleepMs(1);
  if (isFrozen(paths, fs) === frozen) return;
  // A freeze that did not finish is undone: a half-frozen container is paused to nobody, and unpause, kill and stop would find it not frozen.
  if (frozen) fs.write(control.file, control.off);
  throw new CboxError(`the container's processes did not ${frozen ? "freeze" : "thaw"} within a second`);
}

/** Whether the processes in the cgroups at paths are frozen (paused). */
export function isFrozen(paths: string[], fs: CgroupFs = cgroupfs): boolean {
  // v1's freezer folder first: ps asks this of every running container, and each miss is a failed open.
  for (const path of [...paths.filter((p) => p.includes("freezer")), ...paths.filter((p) => !p.includes("freezer"))]) {
    const v1 = fs.read(`${path}/freezer.state`);
    if (v1 !== undefined) return v1.trim() === "FROZEN";
    const v2 = fs.read(`${path}/cgroup.events`);
    if (v2 !== undefined) return /^frozen 1$/m.test(v2);
  }
  return false;
}

/** Whether one of the cgroups at paths can be frozen. */
export function hasFreezer(paths: string[], fs: CgroupFs = cgroupfs): boolean {
  return freezerControl(paths, fs) !== undefined;
}

function freezerControl(paths: string[], fs: CgroupFs): { file: string; on: string; off: string } | undefined {
  for (const path of paths) {
    if (fs.exists(`${path}/freezer.state`)) return { file: `${path}/freezer.state`, on: "FROZEN", off: "THAWED" };
    if (fs.exists(`${path}/cgroup.freeze`)) return { file: `${path}/cgroup.freeze`, on: "1", off: "0" };
  }
  return undefined;
}

/** Thaws whatever of paths is frozen, ignoring failures: a frozen process cannot die, even of SIGKILL. */
export function thawQuietly(paths: string[], fs: CgroupFs = cgroupfs): void {
  const control = freezerControl(paths, fs);
  try {
    if (control) fs.write(control.file, control.off);
  } catch {
    // the cgroup is going
  }
}
