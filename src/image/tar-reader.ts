// Reading a tar archive as it streams in: entries one after the other, each one's content to be
// read (or drained) before the next comes.
import { once } from "node:events";
import { extract } from "tar-stream";
import { CboxError } from "../errors.ts";
import type { TarEntry } from "./unpack.ts";

/** The entries of the archive `source` yields; what: how a damaged archive is named in the error. */
export async function* tarEntries(source: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<TarEntry> {
  const tar = extract();
  const feed = (async () => {
    for await (const chunk of source) if (!tar.write(chunk)) await once(tar, "drain");
    (tar as unknown as { end(): void }).end();
  })();
  feed.catch((err: Error) => tar.destroy(err));
  try {
    for await (const entry of tar) yield entry as unknown as TarEntry;
    await feed;
  } catch (err) {
    if (err instanceof CboxError) throw err;
    throw new CboxError(`${what} is not a tar archive, or a damaged one (${(err as Error).message})`);
  } finally {
    tar.destroy();
  }
}
