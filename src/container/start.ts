// `cbox start`: a created or stopped container runs, detached, with the settings it was made with
// and its upper layer (what it wrote) kept; with -a the caller's stdio is attached to it (docker
// start -a).
import { writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { detectRootlessMaps, type UserMaps } from "../linux/userns.ts";
import type { Paths } from "../paths.ts";
import { attachClient, connectClient, connectWhileStarting, runningTarget, startedTarget, type AttachOptions } from "./attach.ts";
import { withContainerLock } from "./lock.ts";
import type { ContainerDirs } from "./plan.ts";
import { resolveContainer } from "./remove.ts";
import { treeRemover } from "./remove-tree.ts";
import { startContainer } from "./run.ts";
import type { ContainerSpec } from "./spec.ts";
import { liveState, waitingForStart } from "./status.ts";
import { containerDirs, listContainerIds, ownerSelf, readSpec, readState, recoverStale, updateState } from "./store.ts";
import { restartsAtBoot } from "./restart-policy.ts";

/**
 * After a reboot (run by a systemd unit or an @reboot line): every ended container whose policy
 * is always, or unless-stopped and not stopped by the user, starts again (docker's daemon start).
 */
export function startRestartable(paths: Paths): number {
  const s = starter(paths, "all"); // after a reboot every container's owner is gone: all of them are recovered
  const ids = listContainerIds(paths).filter((id) => {
    const dir = containerDirs(paths, id).dir;
    const state = readState(dir);
    return state !== undefined && liveState(state) === "exited" && restartsAtBoot(readSpec(dir, state)?.restart, !!state.manuallyStopped);
  });
  for (const id of ids) {
    startOne(id, paths, s);
    writeSync(1, `${id}\n`);
  }
  return 0;
}

/** What starts share: the user's maps and how to remove trees, read once, with the store recovered. */
export interface Starter {
  rootlessMaps?: UserMaps;
  removeTree: (path: string) => void;
}

export function starter(paths: Paths, scope: "live" | "all" = "live"): Starter {
  const rootlessMaps = process.getuid!() === 0 ? undefined : detectRootlessMaps();
  const removeTree = treeRemover(rootlessMaps);
  recoverStale(paths, removeTree, scope);
  return { rootlessMaps, removeTree };
}

export async function startContainers(refs: string[], paths: Paths, attach?: AttachOptions): Promise<number> {
  if (refs.length === 0) throw new CboxError("cbox start needs at least one container");
  if (attach && refs.length > 1) throw new CboxError("cbox start -a (or -i) takes one container: attach to one at a time");
  const s = starter(paths);
  if (attach) return startAttached(refs[0]!, paths, s, attach);
  for (const ref of refs) {
    startOne(ref, paths, s);
    writeSync(1, `${ref}\n`);
  }
  return 0;
}

/** Starts ref (unless it runs already: docker does nothing then); its folder, and the spec it started with. */
export function startOne(ref: string, paths: Paths, s: Starter, onListening?: (dirs: ContainerDirs) => void): { dirs: ContainerDirs; spec?: ContainerSpec } {
  const dirs = containerDirs(paths, resolveContainer(paths, ref));
  // Claimed under the lock: two cbox start at once must not run it twice on one upper layer.
  const claimed = withContainerLock(dirs.dir, () => {
    const state = readState(dirs.dir);
    if (!state) throw new CboxError(`no such container: ${ref}`);
    const firstStart = waitingForStart(state);
    if (!firstStart && liveState(state) !== "exited") return undefined; // starting or running already
    const made = readSpec(dirs.dir, state);
    if (!made?.security) throw new CboxError(`container ${ref} was made by an older cbox that did not keep its settings; it cannot be started again`);
    // Started by hand: its restart policy counts afresh and applies again (docker's rule).
    updateState(dirs, { status: "created", owner: ownerSelf(), detached: true, stoppedToRestart: undefined, manuallyStopped: false, restartCount: 0, restartDelayMs: 0 });
    // Made before cbox had networks: it had loopback only.
    return { spec: { ...made, network: made.network ?? { mode: "none", ports: [] } }, firstStart };
  });
  if (!claimed) return { dirs };
  startContainer(claimed.spec, paths, { detach: true, ...s, existing: dirs, firstStart: claimed.firstStart, onListening });
  return { dirs, spec: claimed.spec };
}

/** start -a: started with this cbox attached before it runs (so none of its output is missed), or attached to it running. */
async function startAttached(ref: string, paths: Paths, s: Starter, attach: AttachOptions): Promise<number> {
  const [started, client] = connectWhileStarting(ref, attach.once, (onListening) => startOne(ref, paths, s, onListening));
  if (!started.spec) {
    // It ran already: an attach, which never takes its stdin over.
    const target = runningTarget(paths, ref);
    return attachClient(connectClient(target.dirs, ref, false), target, { ...attach, once: false });
  }
  return attachClient(client!, startedTarget(ref, started.dirs, started.spec), attach);
}
