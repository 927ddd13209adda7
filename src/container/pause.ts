// `cbox pause` and `cbox unpause`: every process of a running container frozen or thawed through
// its cgroup's freezer, as docker does; a signal to a paused container thaws it (so it is delivered).
import { writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { hasFreezer, isFrozen, setFrozen } from "../linux/cgroups/freezer.ts";
import type { Paths } from "../paths.ts";
import { withContainerLock } from "./lock.ts";
import { resolveContainer } from "./remove.ts";
import { liveState, pid1Alive } from "./status.ts";
import { containerDirs, readState, updateState, type ContainerState } from "./store.ts";
import type { ContainerDirs } from "./plan.ts";

/** pause: freeze; else thaw. Every container is checked before any is changed; prints each as given. */
export function pauseContainers(refs: string[], pause: boolean, paths: Paths): number {
  if (refs.length === 0) throw new CboxError(`cbox ${pause ? "pause" : "unpause"} needs at least one container`);
  const targets = refs.map((ref) => ({ ref, dirs: containerDirs(paths, resolveContainer(paths, ref)) }));
  for (const { ref, dirs } of targets) freezerOf(ref, readState(dirs.dir), pause);
  for (const { ref, dirs } of targets) {
    // Under the lock: the end of the container (its monitor removes the cgroup) waits for it.
    withContainerLock(dirs.dir, () => {
      setFrozen(freezerOf(ref, readState(dirs.dir), pause), pause);
      // Recorded, so that ps reads no cgroup file per container to show it.
      updateState(dirs, { paused: pause });
    });
    writeSync(1, `${ref}\n`);
  }
  return 0;
}

/** The cgroups to freeze or thaw, or a one-line error saying why this container cannot be. */
function freezerOf(ref: string, state: ContainerState | undefined, pause: boolean): string[] {
  if (!state || liveState(state) !== "running" || !pid1Alive(state)) throw new CboxError(`container ${ref} is not running`);
  const cgroups = state.cgroups ?? [];
  if (!hasFreezer(cgroups)) {
    throw new CboxError(`container ${ref} has no freezer cgroup (it has no cgroup of its own, or an older cbox made it without one), so it cannot be paused`);
  }
  const frozen = isFrozen(cgroups);
  if (pause && frozen) throw new CboxError(`container ${ref} is already paused`);
  if (!pause && !frozen) throw new CboxError(`container ${ref} is not paused`);
  return cgroups;
}

/** After a signal: a frozen process receives it only once thawed, so a paused container is thawed (docker's way). */
export function thawAfterSignal(state: ContainerState, dirs: ContainerDirs): void {
  const cgroups = state.cgroups ?? [];
  try {
    if (cgroups.length && isFrozen(cgroups)) setFrozen(cgroups, false);
    // Under the lock, as every write by a cbox that does not own it: its owner may be recording its end.
    if (state.paused) withContainerLock(dirs.dir, () => readState(dirs.dir)?.paused && updateState(dirs, { paused: false }));
  } catch {
    // its cgroup went with its end
  }
}
