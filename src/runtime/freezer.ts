// pause and resume: every process of a container frozen or thawed, v1's freezer or v2's cgroup.freeze.
import { CboxError } from "../errors.ts";
import type { CgroupLayout } from "../linux/cgroups/detect.ts";
import { cgroupfs, type CgroupFs } from "../linux/cgroups/fs.ts";
import { sleepMs } from "../sys/sleep.ts";

/** Freezes (or thaws) every process in the container: v1's freezer, v2's cgroup.freeze. Waits until done. */
export function setFrozen(layout: CgroupLayout, paths: string[], frozen: boolean, fs: CgroupFs = cgroupfs): void {
  const [file, value, done] = frozenFiles(layout, paths, frozen);
  fs.write(file, value);
  for (let i = 0; i < 1000 && !done(); i++) sleepMs(1);
  if (!done()) throw new CboxError(`the container's processes did not ${frozen ? "freeze" : "thaw"} within a second`);
}

/** Whether the container is frozen (paused). */
export function isFrozen(layout: CgroupLayout, paths: string[], fs: CgroupFs = cgroupfs): boolean {
  if (layout.version === 2) return /^frozen 1$/m.test(fs.read(`${paths[0]}/cgroup.events`) ?? "");
  const freezer = freezerCgroup(layout, paths);
  return !!freezer && (fs.read(`${freezer}/freezer.state`) ?? "").trim() === "FROZEN";
}

function frozenFiles(layout: CgroupLayout, paths: string[], frozen: boolean): [string, string, () => boolean] {
  if (layout.version === 2 && paths[0]) return [`${paths[0]}/cgroup.freeze`, frozen ? "1" : "0", () => isFrozen(layout, paths) === frozen];
  const freezer = freezerCgroup(layout, paths);
  if (!freezer) throw new CboxError("this host has no freezer cgroup controller mounted: pause is not possible");
  return [`${freezer}/freezer.state`, frozen ? "FROZEN" : "THAWED", () => isFrozen(layout, paths) === frozen];
}

/** v1: the container's folder in the freezer hierarchy. */
function freezerCgroup(layout: CgroupLayout, paths: string[]): string | undefined {
  if (layout.version !== 1) return undefined;
  const mount = layout.hierarchies.find((h) => h.controllers.includes("freezer"))?.mount;
  return mount ? paths.find((p) => p.startsWith(`${mount}/`)) : undefined;
}
