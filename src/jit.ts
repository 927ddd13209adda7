// The executable starts with JavaScriptCore's JIT reluctant (--compile-jit-policy in
// scripts/build.ts): a command runs most of its code a few dozen times and exits, and compiling
// those functions cost more than it saved (~0.9 ms of a container start, ~1 ms of `ps` with 50
// containers, measured). Work over bulk data (layers being unpacked, archives written) runs the
// same code millions of times, and gets the normal policy back.
export function jitForBulkWork(): void {
  Bun.unsafe.setJITPolicy(1);
}
