// File writes that readers never see half done, and whole reads and writes of an fd.
import { readSync, renameSync, writeFileSync, writeSync } from "node:fs";

/** Writes by a temp name and a rename: readers see the old content or the new, never part. */
export function writeAtomic(path: string, data: string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

/** Writes all of chunk to fd (a pipe may take it in parts). */
export function writeAll(fd: number, chunk: Uint8Array): void {
  for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
}

/** What fd gives until its end, in chunks, read blocking (a pipe or file cbox was handed). */
export async function* readChunks(fd: number): AsyncGenerator<Uint8Array> {
  for (;;) {
    const buf = new Uint8Array(1 << 16);
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      await Bun.sleep(5); // an fd left non-blocking by whoever opened it
      continue;
    }
    if (n === 0) return;
    yield buf.subarray(0, n);
  }
}
