// `cbox kill` and `cbox stop`: signals to a container's PID 1, as docker sends them.
import { writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { thawAfterSignal } from "./pause.ts";
import { resolveContainer } from "./remove.ts";
import { liveState, owned, pid1Alive, waitingForStart } from "./status.ts";
import { containerDirs, readSpec, readState, updateState, type ContainerState } from "./store.ts";
import { withContainerLock } from "./lock.ts";
import type { ContainerDirs } from "./plan.ts";
import { DEFAULT_STOP_TIMEOUT } from "./spec.ts";
import { SIGNALS, signalNumber } from "../linux/signals.ts";

/** "KILL", "SIGKILL", "kill" or "9". */
export function parseSignal(value: string): number {
  const n = signalNumber(value);
  if (n === undefined) throw new CboxError(`--signal ${JSON.stringify(value)}: not a signal (a name such as TERM or KILL, or 1-64)`);
  return n;
}

/** ref's id, its state and folder; refused in one line when there is no such container. */
export function containerState(paths: Paths, ref: string): { id: string; state: ContainerState; dir: string } {
  const id = resolveContainer(paths, ref);
  const dir = containerDirs(paths, id).dir;
  const state = readState(dir);
  if (!state) throw new CboxError(`no such container: ${ref}`); // removed since it was found
  return { id, state, dir };
}

/** The user stopped or killed it: no restart policy brings it back (docker's rule); a restarting one ends its wait. */
export function markStopped(dirs: ContainerDirs): ContainerState | undefined {
  return withContainerLock(dirs.dir, () => updateState(dirs, { manuallyStopped: true }));
}

function sendSignal(state: ContainerState, signal: number, dirs: ContainerDirs): boolean {
  if (liveState(state) !== "running" || !pid1Alive(state)) return false;
  try {
    process.kill(state.pid!, signal);
  } catch {
    return false; // it ended in between
  }
  thawAfterSignal(state, dirs);
  return true;
}

export function killContainers(refs: string[], signalName: string | undefined, paths: Paths): number {
  if (refs.length === 0) throw new CboxError("cbox kill needs at least one container");
  const signal = parseSignal(signalName ?? "KILL");
  const targets = refs.map((ref) => ({ ref, ...containerState(paths, ref) }));
  for (const t of targets) {
    if (liveState(t.state) === "running") markStopped(containerDirs(paths, t.id));
    if (!sendSignal(t.state, signal, containerDirs(paths, t.id))) throw new CboxError(`container ${t.ref} is not running`);
    writeSync(1, `${t.ref}\n`);
  }
  return 0;
}

/**
 * The stop signal (SIGTERM, or the image's StopSignal or --stop-signal), then SIGKILL once the timeout is up (the container's --stop-timeout unless -t says);
 * returns when the cbox that owns the container has recorded its end, so `rm` can follow.
 */
export async function stopContainers(refs: string[], timeout: string | undefined, paths: Paths): Promise<number> {
  if (refs.length === 0) throw new CboxError("cbox stop needs at least one container");
  const seconds = parseStopTime(timeout);
  const targets = refs.map((ref) => ({ ref, ...containerState(paths, ref) }));
  await stopTargets(paths, targets, seconds);
  for (const t of targets) writeSync(1, `${t.ref}\n`);
  return 0;
}

/** -t SECONDS of stop and restart; undefined: each container's own --stop-timeout. */
export function parseStopTime(timeout: string | undefined): number | undefined {
  if (timeout !== undefined && !/^\d{1,6}$/.test(timeout)) throw new CboxError(`--time ${JSON.stringify(timeout)}: expected a number of seconds`);
  return timeout === undefined ? undefined : Number(timeout);
}

/** stop's work for containers found by containerState: a container not running is left as it is. */
export async function stopTargets(paths: Paths, targets: { id: string; state: ContainerState; dir: string }[], seconds: number | undefined): Promise<void> {
  await Promise.all(
    targets.map(async ({ id, state: found, dir }) => {
      const dirs = containerDirs(paths, id);
      if (liveState(found) !== "exited") markStopped(dirs);
      const state = await pastStarting(dirs, found);
      if (!sendSignal(state, readSpec(dir, state)?.stopSignal ?? SIGNALS.TERM!, dirs)) return;
      if (!(await until(() => !pid1Alive(state), (seconds ?? state.stopTimeout ?? DEFAULT_STOP_TIMEOUT) * 1000))) sendSignal(state, SIGNALS.KILL!, dirs);
      await until(() => !pid1Alive(state), 5000);
    }),
  );
  for (const t of targets) {
    await until(() => {
      const now = readState(containerDirs(paths, t.id).dir);
      return !now || liveState(now) === "exited" || waitingForStart(now);
    }, 5000);
  }
}

/**
 * Its state once it is no longer starting: a start (cbox start, or its restart policy's) that began
 * before the stop goes on to run, and is stopped then, not left running behind the stop.
 */
async function pastStarting(dirs: ContainerDirs, state: ContainerState): Promise<ContainerState> {
  let now = state;
  await until(() => {
    now = readState(dirs.dir) ?? now;
    return !(liveState(now) === "created" && owned(now));
  }, 5000);
  return now;
}

/** Polls done every 20 ms until it holds or ms have passed; whether it held. */
export async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(20)) if (done()) return true;
  return done();
}
