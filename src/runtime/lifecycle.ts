// start, kill, delete: a created container is released, signalled, and removed with what it had.
import { closeSync, constants, openSync, readFileSync, readSync, unlinkSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { parseLayout } from "../linux/cgroups/detect.ts";
import { isSameProcess } from "../linux/proc.ts";
import { signalNumber } from "../linux/signals.ts";
import { removeRuntimeCgroup, updateResources } from "./cgroup.ts";
import { setFrozen, thawQuietly } from "../linux/cgroups/freezer.ts";
import type { OciResources } from "./config.ts";
import { runHooksWarning } from "./hooks.ts";
import { sleepMs } from "../sys/sleep.ts";
import { containerPids, specState, type StateDir } from "./state.ts";

const SIGKILL = 9;
const O_CLOEXEC = 0o2000000;

/** Lets a created container's process go on to its program (it waits on the exec fifo). */
export function startContainer(states: StateDir, id: string, warn: (msg: string) => void): void {
  const state = states.load(id);
  const status = states.status(state);
  if (status !== "created") throw new CboxError(`container ${id} is ${status}: only a created container can be started`);
  const fifo = states.fifo(id);
  // Non-blocking: a process that died meanwhile must not leave start waiting for a writer.
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK | O_CLOEXEC);
  try {
    const byte = Buffer.alloc(1);
    for (;;) {
      try {
        if (readSync(fd, byte, 0, 1, null) === 1) break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      }
      if (!isSameProcess(state.pid, state.pidStartTime)) throw new CboxError(`container ${id} ended before it could start`);
      sleepMs(0.1); // the process writes its byte the moment our open lets its own open return
    }
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
  runHooksWarning("poststart", state.hooks.poststart, specState(state, "running"), warn);
}

/** A signal by name (TERM, SIGTERM) or number. */
export function parseSignal(value: string | undefined): number {
  if (value === undefined) return 15;
  const n = signalNumber(value);
  if (n === undefined) throw new CboxError(`unknown signal ${JSON.stringify(value)}: use a name such as TERM or KILL, or a number`);
  return n;
}

export function killContainer(states: StateDir, id: string, signal: number, all: boolean): void {
  const state = states.load(id);
  const status = states.status(state);
  if (status === "stopped" && !all) throw new CboxError(`container ${id} is not running`);
  if (all) {
    for (const pid of containerPids(state)) sendSignal(pid, signal);
    return;
  }
  sendSignal(state.pid, signal);
}

/** Removes a container: a running one only with force (it is killed), a created one always. */
export function deleteContainer(states: StateDir, id: string, force: boolean, warn: (msg: string) => void): void {
  const state = states.read(id);
  if (!state) {
    if (force) return states.remove(id); // what a create killed halfway may have left
    throw new CboxError(`container ${id} does not exist`);
  }
  const status = states.status(state);
  if (status === "running" && !force) throw new CboxError(`container ${id} is running: stop it first, or delete --force`);
  if (status !== "stopped") {
    sendSignal(state.pid, SIGKILL);
    if (status === "paused") thawQuietly(state.cgroupPaths); // a frozen process cannot die; a thaw that fails must not stop the delete
    if (state.ownPidNamespace || force) for (const pid of containerPids(state)) sendSignal(pid, SIGKILL);
    for (let i = 0; i < 1000 && isSameProcess(state.pid, state.pidStartTime); i++) sleepMs(5);
  }
  removeRuntimeCgroup(state.cgroupPaths);
  runHooksWarning("poststop", state.hooks.poststop, specState(state, "stopped"), warn);
  states.remove(id);
}

function sendSignal(pid: number, signal: number): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** pause (freeze) or resume (thaw) a running container's processes. */
export function pauseContainer(states: StateDir, id: string, pause: boolean): void {
  const state = states.load(id);
  const status = states.status(state);
  if (pause && status !== "running") throw new CboxError(`container ${id} is ${status}: only a running container can be paused`);
  if (!pause && status !== "paused") throw new CboxError(`container ${id} is ${status}: only a paused container can be resumed`);
  setFrozen(state.cgroupPaths, pause);
}

/** New limits for a container that runs (or waits to start). */
export function updateContainer(states: StateDir, id: string, resources: OciResources): void {
  const state = states.load(id);
  if (states.status(state) === "stopped") throw new CboxError(`container ${id} is not running`);
  updateResources(parseLayout(readFileSync("/proc/self/mountinfo", "utf8")), state.cgroupPaths, resources);
}
