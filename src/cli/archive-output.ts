// Where a command's tar archive goes: a file (-o), written under a temporary name beside it and
// renamed once whole, so a failure leaves nothing; or standard output, never a terminal.
import { closeSync, openSync, renameSync, rmSync } from "node:fs";
import { isatty } from "node:tty";
import { CboxError } from "../errors.ts";
import { writeAll } from "../files.ts";

/** refusal: the one line for a terminal on standard output (it names the command's own -o). */
export async function writeArchive(output: string | undefined, refusal: string, produce: (sink: (chunk: Uint8Array) => void) => Promise<void>): Promise<void> {
  if (!output && isatty(1)) throw new CboxError(refusal);
  if (!output) return produce((chunk) => writeAll(1, chunk));
  const temp = `${output}.tmp-${process.pid}`;
  const fd = openSync(temp, "wx", 0o644);
  let open = true;
  try {
    await produce((chunk) => writeAll(fd, chunk));
    closeSync(fd);
    open = false;
    renameSync(temp, output);
  } catch (err) {
    if (open) closeSync(fd); // closed already when the rename failed: a second close would hide its error
    rmSync(temp, { force: true });
    throw err;
  }
}
