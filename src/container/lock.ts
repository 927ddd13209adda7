// One lock per folder (flock on it): held around every read-modify-write of a container's state
// by a cbox that does not own it, and of the volume store (volumes/), so two cbox commands at
// once never act on stale state.
import { closeSync, openSync } from "node:fs";
import { checkErrno } from "../errors.ts";
import { extraShim } from "../sys/shim.ts";

const LOCK_EX = 2;

/** Runs fn holding the folder's lock; a folder already gone needs no lock. */
export function withFolderLock<T>(dir: string, fn: () => T): T {
  const release = holdFolderLock(dir);
  try {
    return fn();
  } finally {
    release();
  }
}

/** Takes the folder's lock until the function returned is called (for work that awaits; calling it again does nothing). */
export function holdFolderLock(dir: string): () => void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return () => {};
  }
  try {
    checkErrno("flock", extraShim().cbox_flock(fd, LOCK_EX));
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let held = true;
  return () => {
    if (held) closeSync(fd); // releases the lock
    held = false;
  };
}

/** Runs fn holding the container's lock (its folder's). */
export const withContainerLock = withFolderLock;
