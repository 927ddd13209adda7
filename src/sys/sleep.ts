// A synchronous sleep: cbox's commands are synchronous, and a short wait must not need the event loop.
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
