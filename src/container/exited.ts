// `cbox _exited ID`: what a detached container's monitor becomes (execve) once the container has
// ended and its exit file is written. It records the end as the foreground cbox would have, and
// when the container's restart policy says so, waits its back-off and starts it again (a new
// monitor, whose end comes back here): docker's restart policies, with no daemon.
import { detectRootlessMaps } from "../linux/userns.ts";
import type { Paths } from "../paths.ts";
import { sleepMs } from "../sys/sleep.ts";
import { withContainerLock } from "./lock.ts";
import { treeRemover } from "./remove-tree.ts";
import { restartDecision } from "./restart-policy.ts";
import { startContainer } from "./run.ts";
import type { ContainerDirs } from "./plan.ts";
import { containerDirs, ownerSelf, readSpec, readState, recordEnd, updateState } from "./store.ts";

export function recordExit(paths: Paths, id: string): number {
  const rootlessMaps = process.getuid!() === 0 ? undefined : detectRootlessMaps();
  const removeTree = treeRemover(rootlessMaps);
  const dirs = containerDirs(paths, id);
  const delayMs = withContainerLock(dirs.dir, () => {
    const state = readState(dirs.dir);
    if (!state || state.status === "exited") return undefined;
    let wait: number | undefined;
    recordEnd(paths, state, removeTree, (ended) => {
      const policy = readSpec(dirs.dir, ended)?.restart;
      const decision = restartDecision(policy, {
        exitCode: ended.exitCode ?? null,
        manuallyStopped: !!ended.manuallyStopped,
        restartCount: ended.restartCount ?? 0,
        ranMs: Date.parse(ended.finished ?? "") - Date.parse(ended.started ?? ended.created) || 0,
        lastDelayMs: ended.restartDelayMs ?? 0,
      });
      if (!decision.restart) return {};
      wait = decision.delayMs;
      return { status: "restarting", owner: ownerSelf(), restartDelayMs: decision.delayMs };
    });
    return wait;
  });
  if (delayMs !== undefined) restartAfter(paths, dirs, delayMs, { rootlessMaps, removeTree });
  return 0;
}

/** Waits out the back-off (a stop or kill meanwhile ends it), then starts the container again. */
function restartAfter(paths: Paths, dirs: ContainerDirs, delayMs: number, mode: { rootlessMaps?: ReturnType<typeof detectRootlessMaps>; removeTree: (path: string) => void }): void {
  const wanted = () => {
    const state = readState(dirs.dir);
    return state?.status === "restarting" && !state.manuallyStopped;
  };
  for (const end = Date.now() + delayMs; Date.now() < end && wanted(); ) sleepMs(Math.min(50, end - Date.now()));
  const spec = withContainerLock(dirs.dir, () => {
    const state = readState(dirs.dir);
    if (!state || state.status !== "restarting") return undefined;
    const made = readSpec(dirs.dir, state);
    if (state.manuallyStopped || !made) {
      updateState(dirs, { status: "exited" });
      return undefined;
    }
    updateState(dirs, { status: "created", owner: ownerSelf(), restartCount: (state.restartCount ?? 0) + 1 });
    return made;
  });
  // A failure to start is recorded by startContainer (the container is exited again), and said on this process's stderr, which is nobody's.
  if (spec) startContainer(spec, paths, { detach: true, ...mode, existing: dirs });
}
