// A container's first process: cloned by the shim, held until released, then waited for.
import { closeSync, readSync, writeSync } from "node:fs";
import { encodePlan, type Op } from "./ops.ts";
import { shim } from "./shim.ts";

export interface OpFailure {
  index: number;
  errno: number;
}

export class SpawnError extends Error {
  constructor(readonly errno: number) {
    super(`clone: errno ${errno}`);
  }
}

export class HeldChild {
  private releaseFd: number;
  private errorFd: number;
  private reaped = false;

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
    let got = 0;
    while (got < 8) {
      const n = readSync(this.errorFd, msg, got, 8 - got, null);
      if (n === 0) break;
      got += n;
    }
    closeSync(this.errorFd);
    this.errorFd = -1;
    return got === 8 ? { index: msg.readInt32LE(0), errno: msg.readInt32LE(4) } : null;
  }

  /** Blocks until the child ends; the raw wait status. */
  wait(): number {
    const status = shim().cbox_wait(this.pid);
    this.reaped = true;
    return status;
  }

  /** For a start that failed before release: the child is killed and reaped. */
  abort(): void {
    this.closeRelease();
    if (this.errorFd >= 0) closeSync(this.errorFd);
    this.errorFd = -1;
    if (this.reaped) return;
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {
      // already gone; still reap it below
    }
    this.wait();
  }

  private closeRelease(): void {
    if (this.releaseFd >= 0) closeSync(this.releaseFd);
    this.releaseFd = -1;
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

/** Exit code as a shell reports it: the code, or 128+N for a death by signal N. */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}
