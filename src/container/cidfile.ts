// --cidfile: the container's id in a file, written when the container is made (docker's order).
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { CboxError, systemErrorText } from "../errors.ts";

/** fn with --cidfile written first, and removed again if fn fails. */
export function withCidfile<T>(cidfile: string | undefined, id: string, fn: () => T): T {
  if (cidfile) writeCidfile(cidfile, id);
  try {
    return fn();
  } catch (err) {
    if (cidfile) rmSync(cidfile, { force: true });
    throw err;
  }
}

/** --cidfile: the id, in a file that must not exist yet (another container may be using it). */
function writeCidfile(path: string, id: string): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new CboxError(`--cidfile ${path}: the file exists; make sure its container is gone, then delete it`);
    throw new CboxError(`--cidfile: cannot create it: ${systemErrorText(err)}`);
  }
  try {
    writeSync(fd, id);
  } finally {
    closeSync(fd);
  }
}
