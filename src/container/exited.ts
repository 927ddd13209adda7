// `cbox _exited ID`: what a detached container's monitor becomes (execve) once the container has
// ended and its exit file is written. It records the end as the foreground cbox would have.
import { detectRootlessMaps } from "../linux/userns.ts";
import type { Paths } from "../paths.ts";
import { withContainerLock } from "./lock.ts";
import { treeRemover } from "./remove-tree.ts";
import { containerDirs, readState, recordEnd } from "./store.ts";

export function recordExit(paths: Paths, id: string): number {
  const removeTree = treeRemover(process.getuid!() === 0 ? undefined : detectRootlessMaps());
  const dirs = containerDirs(paths, id);
  withContainerLock(dirs.dir, () => {
    const state = readState(dirs.dir);
    if (state && state.status !== "exited") recordEnd(paths, state, removeTree);
  });
  return 0;
}
