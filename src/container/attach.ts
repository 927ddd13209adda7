// Attaching to a detached container (cbox attach, start -a, run -a): the user's terminal or stdio
// connected to it through its monitor's attach socket, `attach` in its folder (monitor.c has the
// protocol). The monitor keeps the container's stdio: a client only borrows it, so the container
// runs on when the client detaches (Ctrl-P Ctrl-Q) or ends.
import { chmodSync, closeSync, openSync, rmSync } from "node:fs";
import { CboxError, describeErrno, ErrnoError } from "../errors.ts";
import { eofChar } from "../linux/termios.ts";
import type { Paths } from "../paths.ts";
import { exitCodeOf } from "../sys/process.ts";
import { connectToAttach, getTermios, listenForAttach, receiveOptionalFd, relay, type RelayEnd } from "../sys/stdio.ts";
import type { ContainerDirs } from "./plan.ts";
import { resolveContainer } from "./remove.ts";
import { DETACHING_SIGNALS, FORWARDED_SIGNALS } from "./sig-proxy.ts";
import { until } from "./signal.ts";
import type { ContainerSpec } from "./spec.ts";
import { terminalFd, withRawTerminal } from "./stdio.ts";
import { liveState, pid1Alive } from "./status.ts";
import { containerDirs, readSpec, readState } from "./store-read.ts";

/** Which of the container's streams a client copies. */
export interface AttachStreams {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface AttachOptions extends AttachStreams {
  /** The container's stdin ends when this client's input does (docker's StdinOnce): for the cbox that started it. */
  once: boolean;
  /** Pass the signals cbox gets on to PID 1 (docker's --sig-proxy; not with -t, whose keys reach the container). */
  sigProxy: boolean;
  detachKeys: Uint8Array;
}

/** The container a client is attached to. */
export interface AttachTarget {
  ref: string;
  dirs: ContainerDirs;
  spec: ContainerSpec;
  /** PID 1, for signals; undefined when it has ended already. */
  pid?: number;
}

/** run's -a values (stdin, stdout, stderr, in any case); without any: stdout, stderr, and stdin with -i (docker's). */
export function parseAttachStreams(values: string[] | undefined, interactive: boolean): AttachStreams {
  if (!values?.length) return { stdin: interactive, stdout: true, stderr: true };
  const streams = { stdin: false, stdout: false, stderr: false };
  for (const value of values) {
    const name = value.toLowerCase();
    if (name !== "stdin" && name !== "stdout" && name !== "stderr") throw new CboxError(`--attach ${JSON.stringify(value)}: expected STDIN, STDOUT or STDERR`);
    streams[name] = true;
  }
  if (streams.stdin && !interactive) throw new CboxError("--attach STDIN needs -i: without it the container's stdin is /dev/null");
  return streams;
}

/** The attach socket of a container about to start, listening (a socket file of an earlier run goes first). */
export function listenForClients(dirs: ContainerDirs): number {
  rmSync(dirs.attach, { force: true });
  const fd = viaFolder(dirs, listenForAttach);
  chmodSync(dirs.attach, 0o600);
  return fd;
}

/** Connects to the container's monitor, asking to take its stdin over when once. */
export function connectClient(dirs: ContainerDirs, ref: string, once: boolean): number {
  try {
    return viaFolder(dirs, (path) => connectToAttach(path, once ? "o" : "a"));
  } catch (err) {
    if (err instanceof ErrnoError && (err.errno === ENOENT || err.errno === ECONNREFUSED)) throw notRunning(ref);
    if (err instanceof ErrnoError) throw new CboxError(`cannot attach to container ${ref}: ${describeErrno(err.errno)}`);
    throw err;
  }
}

/**
 * start(onListening), with a client connected as soon as the container's attach socket listens,
 * before the container runs (so it misses none of its output); closed again if start fails.
 * start's result, and the client when start ran the container.
 */
export function connectWhileStarting<T>(ref: string, once: boolean, start: (onListening: (dirs: ContainerDirs) => void) => T): [T, number | undefined] {
  let client: number | undefined;
  try {
    const result = start((dirs) => (client = connectClient(dirs, ref, once)));
    return [result, client];
  } catch (err) {
    if (client !== undefined) closeSync(client);
    throw err;
  }
}

const ENOENT = 2;
const ECONNREFUSED = 111;

/**
 * A unix socket's path may hold 108 bytes, a storage root's container folder more: the socket is
 * reached through /proc/self/fd and an fd of its folder.
 */
function viaFolder<T>(dirs: ContainerDirs, fn: (path: string) => T): T {
  const fd = openSync(dirs.dir, "r");
  try {
    return fn(`/proc/self/fd/${fd}/attach`);
  } finally {
    closeSync(fd);
  }
}

function notRunning(ref: string): CboxError {
  return new CboxError(`container ${ref} is not running`);
}

/** A running container that a client may attach to: refused in one line otherwise. */
export function runningTarget(paths: Paths, ref: string): AttachTarget {
  const dirs = containerDirs(paths, resolveContainer(paths, ref));
  const state = readState(dirs.dir);
  if (!state || liveState(state) !== "running" || !pid1Alive(state)) throw notRunning(ref);
  const spec = readSpec(dirs.dir, state);
  if (!state.detached || !spec) {
    throw new CboxError(`container ${ref} runs in the foreground of the cbox run that started it, which holds its stdio; only containers started with -d, cbox create or cbox start can be attached`);
  }
  return { ref, dirs, spec, pid: state.pid };
}

/** A container this cbox has just started (it may have ended already: its output and status still come). */
export function startedTarget(ref: string, dirs: ContainerDirs, spec: ContainerSpec): AttachTarget {
  const state = readState(dirs.dir);
  return { ref, dirs, spec, pid: state && pid1Alive(state) ? state.pid : undefined };
}

/**
 * Copies between cbox's stdio and the container over sock (connected by connectClient) until the
 * container ends, the user detaches or a signal ends it; the exit code: the container's, 0 after
 * a detach, 128+N after signal N.
 */
export async function attachClient(sock: number, target: AttachTarget, opts: AttachOptions): Promise<number> {
  let end: RelayEnd;
  try {
    end = relayWith(sock, target, opts);
  } finally {
    closeSync(sock);
  }
  if (end.how === "detached") return 0;
  if (end.how === "signal") return 128 + end.signal;
  return endedWith(target, end.status);
}

function relayWith(sock: number, target: AttachTarget, opts: AttachOptions): RelayEnd {
  let input: number | undefined;
  try {
    input = receiveOptionalFd(sock);
  } catch (err) {
    if (err instanceof ErrnoError) return { how: "ended", status: -1 }; // it ended before the monitor answered
    throw err;
  }
  const { spec } = target;
  const copyIn = opts.stdin && spec.interactive && input !== undefined;
  const settings = spec.tty && input !== undefined ? getTermios(input) : undefined;
  const proxy = opts.sigProxy && !spec.tty && target.pid !== undefined;
  return withRawTerminal(spec.tty && copyIn, () =>
    relay(
      {
        in: copyIn ? 0 : -1,
        to: input ?? -1,
        from: sock,
        out: opts.stdout ? 1 : -1,
        err: opts.stderr ? 2 : -1,
        sizeFrom: settings ? (terminalFd() ?? -1) : -1,
        eof: copyIn && opts.once && settings ? eofChar(settings) : -1,
      },
      {
        detachKeys: copyIn ? opts.detachKeys : undefined,
        proxy: proxy ? { pid: target.pid!, signals: FORWARDED_SIGNALS } : undefined,
        ending: proxy ? [] : DETACHING_SIGNALS,
      },
    ),
  );
}

/** How long the end's record may take once the monitor has said goodbye (it runs `cbox _exited`). */
const RECORD_WAIT_MS = 10_000;

/** The exit code, once the end is recorded (so that rm, or --rm's removal, has happened when cbox returns). */
async function endedWith(target: AttachTarget, status: number): Promise<number> {
  await until(() => {
    const state = readState(target.dirs.dir);
    return !state || liveState(state) !== "running";
  }, RECORD_WAIT_MS);
  if (status >= 0) return exitCodeOf(status);
  const code = readState(target.dirs.dir)?.exitCode;
  if (typeof code === "number") return code;
  throw new CboxError(`container ${target.ref} ended, but its exit code is not known (its monitor was killed)`);
}
