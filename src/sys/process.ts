// A container's first process: cloned by the shim, held until released, then waited for (or,
// detached, left to the monitor the shim forked for it).
import { closeSync, readSync, writeSync } from "node:fs";
import { encodePlan, type Op } from "./ops.ts";
import { detachShim, shim } from "./shim.ts";

export interface OpFailure {
  index: number;
  errno: number;
}

export class SpawnError extends Error {
  constructor(readonly errno: number) {
    super(`clone: errno ${errno}`);
  }
}

/** The index a forkReport op's message carries instead of a failed op's. */
const FORKED = -2;

/** A child waiting to run its plan: what both kinds of start share. */
abstract class Held {
  protected releaseFd: number;
  protected errorFd: number;
  /** The process the plan went on in after a forkReport op (this one then ended). */
  forkedPid: number | undefined;

  constructor(
    readonly pid: number,
    releaseFd: number,
    errorFd: number,
  ) {
    this.releaseFd = releaseFd;
    this.errorFd = errorFd;
  }

  /** Lets the child run its plan; returns the op that failed, or null once it has exec'd. */
  release(): OpFailure | null {
    try {
      writeSync(this.releaseFd, "x");
    } catch {
      // EPIPE: a forwarded signal killed the child before its release; wait() tells how it ended
    }
    this.closeRelease();
    const msg = Buffer.alloc(8);
    for (;;) {
      let got = 0;
      while (got < 8) {
        const n = readSync(this.errorFd, msg, got, 8 - got, null);
        if (n === 0) break;
        got += n;
      }
      const index = msg.readInt32LE(0);
      if (got === 8 && index === FORKED) {
        this.forkedPid = msg.readInt32LE(4);
        continue;
      }
      closeSync(this.errorFd);
      this.errorFd = -1;
      return got === 8 ? { index, errno: msg.readInt32LE(4) } : null;
    }
  }

  protected closeFds(): void {
    if (this.releaseFd >= 0) closeSync(this.releaseFd);
    if (this.errorFd >= 0) closeSync(this.errorFd);
    this.releaseFd = this.errorFd = -1;
  }

  protected closeRelease(): void {
    if (this.releaseFd >= 0) closeSync(this.releaseFd);
    this.releaseFd = -1;
  }
}

export class HeldChild extends Held {
  private reaped = false;

  /** Blocks until the child ends; the raw wait status. */
  wait(): number {
    const status = shim().cbox_wait(this.pid);
    this.reaped = true;
    return status;
  }

  /** For a start that failed before release: the child is killed and reaped. */
  abort(): void {
    this.closeFds();
    if (this.reaped) return;
    killQuietly(this.pid);
    this.wait();
  }
}

/** A child the monitor cloned: cbox releases it, then hands it over or gives up. */
export class DetachedChild extends Held {
  constructor(
    pid: number,
    releaseFd: number,
    errorFd: number,
    private doneFd: number,
    readonly monitorPid: number,
  ) {
    super(pid, releaseFd, errorFd);
  }

  /** The start went through: from now on the monitor keeps the container and records its end. */
  started(): void {
    writeSync(this.doneFd, "g");
    this.closeDone();
  }

  /** The start failed: the container is killed, and the monitor ends without recording anything. */
  abort(): void {
    this.closeFds();
    if (this.doneFd < 0) return;
    killQuietly(this.pid);
    this.closeDone();
    detachShim().cbox_wait(this.monitorPid);
  }

  private closeDone(): void {
    if (this.doneFd >= 0) closeSync(this.doneFd);
    this.doneFd = -1;
  }
}

/** SIGKILL, unless pid has already gone. */
export function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export interface Forwarding {
  /** Signals sent to cbox that go on to the child. */
  signals: number[];
  /** Of those, the ones after which the child is killed if it still lives stopTimeout seconds later. */
  stopSignals: number[];
  /** 0: never. */
  stopTimeout: number;
}

const NO_FORWARDING: Forwarding = { signals: [], stopSignals: [], stopTimeout: 0 };

/** Clones a child that waits to run plan. */
export function spawnHeld(plan: Op[], cloneFlags: number, forward = NO_FORWARDING): HeldChild {
  const bytes = encodePlan(plan);
  const out = new Int32Array(3);
  const stopMask = forward.stopSignals.reduce((mask, sig) => mask | (1 << sig), 0);
  const stop = new Int32Array([stopMask, forward.stopTimeout]);
  const signals = new Int32Array(forward.signals);
  const r = shim().cbox_spawn(bytes, bytes.length, cloneFlags, signals, signals.length, stop, out);
  if (r < 0) throw new SpawnError(-r);
  return new HeldChild(out[0]!, out[1]!, out[2]!);
}

export interface Detached {
  /** Where the monitor appends the container's output (opened by the caller, O_APPEND). */
  logFd: number;
  /** The container's stdin: /dev/null, a pipe the monitor holds open (-i), or a pty whose master the monitor holds (-t). */
  stdin: "null" | "pipe" | "tty";
  /** The attach socket, listening: the monitor serves it while the container runs. */
  attachFd: number;
  /** An open PID namespace (another container's) the monitor clones the container into. */
  pidNamespaceFd?: number;
  /** Where the monitor writes "STATUS FINISHED" once the container has ended. */
  exitFile: string;
  /** What the monitor then becomes (execve): cbox recording the end. */
  exitCommand: string[];
  /** The monitor's command line, as ps shows it. */
  title: string;
}

const encoder = new TextEncoder();
/** monitor.c's STDIN_NULL, STDIN_PIPE, STDIN_TTY. */
const STDIN_KINDS = ["null", "pipe", "tty"] as const;

/** Forks a monitor that clones a child waiting to run plan, with the monitor's pipes as its stdio. */
export function spawnDetached(plan: Op[], cloneFlags: number, d: Detached): DetachedChild {
  const bytes = encodePlan(plan);
  const strs = [`${d.exitFile}.tmp`, d.exitFile, d.title, ...d.exitCommand];
  const packed = encoder.encode(strs.map((s) => `${s}\0`).join(""));
  const out = new Int32Array(5);
  const cfg = new Int32Array([d.logFd, STDIN_KINDS.indexOf(d.stdin), d.pidNamespaceFd ?? -1, d.attachFd]);
  const r = detachShim().cbox_detach(bytes, bytes.length, cloneFlags, cfg, packed, strs.length, out);
  if (r < 0) throw new SpawnError(-r);
  return new DetachedChild(out[0]!, out[1]!, out[2]!, out[3]!, out[4]!);
}

/** Exit code as a shell reports it: the code, or 128+N for a death by signal N. */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}
