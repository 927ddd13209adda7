// `cbox container prune`: every stopped container removed (its anonymous volumes kept, as docker
// keeps them), each under its lock, so one that starts meanwhile stays.
import type { Paths } from "../paths.ts";
import { containerBytes } from "./disk-usage.ts";
import { withContainerLock } from "./lock.ts";
import { recoverStaleStore } from "./remove.ts";
import { liveState } from "./status.ts";
import { containerDirs, listContainerIds, readState, removeContainer } from "./store.ts";

/** The ids removed, and the bytes they had written. */
export function pruneContainers(paths: Paths): { removed: string[]; bytes: number } {
  const removeTree = recoverStaleStore(paths);
  const removed: string[] = [];
  let bytes = 0;
  for (const id of listContainerIds(paths)) {
    const dir = containerDirs(paths, id).dir;
    withContainerLock(dir, () => {
      const state = readState(dir);
      if (!state || liveState(state) !== "exited") return;
      const size = containerBytes(paths, id);
      removeContainer(paths, id, removeTree);
      removed.push(id);
      bytes += size;
    });
  }
  return { removed, bytes };
}
