// `cbox start`: a stopped container runs again, detached, with the settings it was made with and
// its upper layer (what it wrote) kept; docker start without -a.
import { writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { detectRootlessMaps } from "../linux/userns.ts";
import type { Paths } from "../paths.ts";
import { withContainerLock } from "./lock.ts";
import { resolveContainer } from "./remove.ts";
import { treeRemover } from "./remove-tree.ts";
import { startContainer } from "./run.ts";
import { liveState } from "./status.ts";
import { containerDirs, listContainerIds, ownerSelf, readSpec, readState, recoverStale, updateState } from "./store.ts";
import { restartsAtBoot } from "./restart-policy.ts";

/**
 * After a reboot (run by a systemd unit or an @reboot line): every ended container whose policy
 * is always, or unless-stopped and not stopped by the user, starts again (docker's daemon start).
 */
export function startRestartable(paths: Paths): number {
  recoverStale(paths, treeRemover(process.getuid!() === 0 ? undefined : detectRootlessMaps()), "all");
  const ids = listContainerIds(paths).filter((id) => {
    const dir = containerDirs(paths, id).dir;
    const state = readState(dir);
    return state !== undefined && liveState(state) === "exited" && restartsAtBoot(readSpec(dir, state)?.restart, !!state.manuallyStopped);
  });
  return ids.length ? startContainers(ids, paths) : 0;
}

export function startContainers(refs: string[], paths: Paths): number {
  if (refs.length === 0) throw new CboxError("cbox start needs at least one container");
  const rootlessMaps = process.getuid!() === 0 ? undefined : detectRootlessMaps();
  const removeTree = treeRemover(rootlessMaps);
  recoverStale(paths, removeTree);
  for (const ref of refs) {
    const dirs = containerDirs(paths, resolveContainer(paths, ref));
    // Claimed under the lock: two cbox start at once must not run it twice on one upper layer.
    const spec = withContainerLock(dirs.dir, () => {
      const state = readState(dirs.dir);
      if (!state) throw new CboxError(`no such container: ${ref}`);
      if (liveState(state) !== "exited") return undefined; // running already: nothing to do, as docker
      const made = readSpec(dirs.dir, state);
      if (!made?.security) throw new CboxError(`container ${ref} was made by an older cbox that did not keep its settings; it cannot be started again`);
      if (made.tty) throw new CboxError(`container ${ref} was made with -t; cbox start cannot give it a terminal yet`);
      // Started by hand: its restart policy counts afresh and applies again (docker's rule).
      updateState(dirs, { status: "created", owner: ownerSelf(), detached: true, manuallyStopped: false, restartCount: 0, restartDelayMs: 0 });
      // Made before cbox had networks: it had loopback only.
      return { ...made, network: made.network ?? { mode: "none", ports: [] } };
    });
    if (spec) startContainer(spec, paths, { detach: true, rootlessMaps, removeTree, existing: dirs });
    writeSync(1, `${ref}\n`);
  }
  return 0;
}
