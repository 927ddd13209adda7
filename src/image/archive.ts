// One pass over an image archive: bytes are hashed as they arrive, gunzipped when gzip, read as
// tar and unpacked; no temporary tarball. The caller decides what the hash must be.
import { once } from "node:events";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { CboxError, systemErrorText } from "../errors.ts";
import { Unpacker, UnsafeEntryError, type TarEntry, type UnpackOptions, type UnpackSummary } from "./unpack.ts";

export interface ArchiveResult extends UnpackSummary {
  sha256: string;
}

/**
 * Unpacks the archive `source` yields into `dir`. `onBytes` sees each raw chunk (for progress).
 * A broken stream, a bad archive or a hostile entry rejects; `dir` is then the caller's to remove.
 */
export async function unpackArchive(
  source: AsyncIterable<Uint8Array>,
  dir: string,
  opts: UnpackOptions & { onBytes?: (n: number) => void; describe: string },
): Promise<ArchiveResult> {
  const hasher = new Bun.CryptoHasher("sha256");
  const tar = extract();
  const gunzip = createGunzip();
  let sink: NodeJS.WritableStream | undefined;
  const unpacker = new Unpacker(dir, opts);

  const feed = async () => {
    for await (const chunk of source) {
      hasher.update(chunk);
      opts.onBytes?.(chunk.length);
      if (!sink) {
        // gzip starts with 1f 8b; anything else is read as a plain tar.
        sink = chunk[0] === 0x1f && chunk[1] === 0x8b ? gunzip : tar;
        if (sink === gunzip) {
          gunzip.pipe(tar);
          gunzip.on("error", (err) => tar.destroy(err)); // pipe() does not pass errors on
        }
      }
      if (!sink.write(chunk)) await once(sink, "drain");
    }
    if (!sink) throw new CboxError(`${opts.describe}: the archive is empty`);
    sink.end();
  };
  const unpack = async () => {
    for await (const entry of tar) await unpacker.add(entry as unknown as TarEntry);
    return unpacker.finish();
  };

  try {
    const [, summary] = await Promise.all([feed(), unpack()]);
    return { ...summary, sha256: hasher.digest("hex") };
  } catch (err) {
    gunzip.destroy();
    tar.destroy();
    throw archiveError(err, opts.describe);
  }
}

function archiveError(err: unknown, what: string): CboxError {
  if (err instanceof CboxError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "Z_DATA_ERROR" || e?.code === "Z_BUF_ERROR" || /unexpected end|incorrect header|invalid tar/i.test(e?.message ?? "")) {
    return new CboxError(`${what}: the archive is damaged or incomplete (${e.message})`);
  }
  if (e?.syscall || e?.path) return new CboxError(`${what}: cannot unpack: ${systemErrorText(err)}`);
  return new CboxError(`${what}: ${e?.message ?? String(err)}`);
}

export { UnsafeEntryError };
