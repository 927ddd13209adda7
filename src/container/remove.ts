// `cbox rm`: find containers by id, unique id prefix or name, and remove them.
import { writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { detectRootlessMaps } from "../linux/userns.ts";
import type { Paths } from "../paths.ts";
import { killQuietly } from "../sys/process.ts";
import { withContainerLock } from "./lock.ts";
import { thawAfterSignal } from "./pause.ts";
import { treeRemover } from "./remove-tree.ts";
import { until } from "./signal.ts";
import { active, pid1Alive } from "./status.ts";
import { markStopped } from "./signal.ts";
import { containerDirs, readState, recoverStale, removeContainer } from "./store.ts";

import { resolveContainer } from "./store-read.ts";

export { resolveContainer };

/** The store brought back to the truth (recoverStale) with the right way to remove trees. */
export function recoverStaleStore(paths: Paths): (path: string) => void {
  const removeTree = treeRemover(process.getuid!() === 0 ? undefined : detectRootlessMaps());
  recoverStale(paths, removeTree, "all");
  return removeTree;
}

export async function removeContainers(refs: string[], force: boolean, paths: Paths, volumes = false): Promise<number> {
  if (refs.length === 0) throw new CboxError("cbox rm needs at least one container");
  const removeTree = recoverStaleStore(paths);
  const ids = refs.map((ref) => resolveContainer(paths, ref));
  for (const [i, id] of ids.entries()) {
    const dir = containerDirs(paths, id).dir;
    const running = () => {
      const state = readState(dir);
      return state !== undefined && active(state);
    };
    if (running()) {
      if (!force) throw new CboxError(`container ${refs[i]} is running; stop it first or use cbox rm -f`);
      const dirs = containerDirs(paths, id);
      const state = markStopped(dirs); // undefined: it ended and went (--rm) meanwhile
      if (state && pid1Alive(state)) killQuietly(state.pid!);
      if (state) thawAfterSignal(state, dirs);
      // Its owner (a foreground cbox or the monitor) records the end; removing under it would race.
      await until(() => !running(), OWNER_GRACE_MS);
    }
    withContainerLock(dir, () => removeContainer(paths, id, removeTree, { volumes }));
    writeSync(1, `${refs[i]}\n`);
  }
  return 0;
}

/** How long rm -f waits for a killed container's owner to record its end before removing anyway. */
const OWNER_GRACE_MS = 10_000;
