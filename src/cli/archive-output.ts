// Where a command's tar archive goes: a file (-o), written under a temporary name beside it and
// renamed once whole, so a failure leaves nothing; or standard output, never a terminal.
import { closeSync, openSync, renameSync, rmSync } from "node:fs";
import { isatty } from "node:tty";
import { CboxError } from "../errors.ts";
import { writeAll } from "../files.ts";

/** refusal: the one line for a terminal on standard output (it names the command's own -o). */
export async function writeArchive(output: string | undefined, refusal: string, produce: (sink: (chunk: Uint8Array) => void) => Promise<void>): Promise<void> {
  if (!output && isatty(1)) throw new CboxError(refusal);
  const temp = output ? `${output}.tmp-${process.pid}` : undefined;
  const fd = temp ? openSync(temp, "wx", 0o644) : 1;
  try {
    await produce((chunk) => writeAll(fd, chunk));
    if (temp) {
      closeSync(fd);
      renameSync(temp, output!);
    }
  } catch (err) {
    if (temp) {
      closeSync(fd);
      rmSync(temp, { force: true });
    }
    throw err;
  }
}
