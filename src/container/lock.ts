// One lock per container (flock on its folder), held around every read-modify-write of its
// state by a cbox that does not own it: two cbox commands at once never act on stale state.
import { closeSync, openSync } from "node:fs";
import { checkErrno } from "../errors.ts";
import { extraShim } from "../sys/shim.ts";

const LOCK_EX = 2;

/** Runs fn holding the container's lock; a folder already gone needs no lock. */
export function withContainerLock<T>(dir: string, fn: () => T): T {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return fn();
  }
  try {
    checkErrno("flock", extraShim().cbox_flock(fd, LOCK_EX));
    return fn();
  } finally {
    closeSync(fd); // releases the lock
  }
}
