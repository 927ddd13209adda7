// Writing tar archives with tar-stream: entries go in one after another (each waits for the
// last), file content streamed from disk; the archive's bytes go to a sink as they come.
import { once } from "node:events";
import { pack, type Header, type Pack } from "tar-stream";

export type EntryHeader = Partial<Header> & Pick<Header, "name">;

export class TarWriter {
  private tar: Pack = pack();
  private readonly done: Promise<void>;
  /** The sink's failure (a reader gone: EPIPE): every later entry fails with it. */
  private failed: unknown;

  constructor(sink: (chunk: Uint8Array) => void | Promise<void>) {
    const tar = this.tar;
    this.done = (async () => {
      for await (const chunk of tar) {
        try {
          await sink(chunk as Uint8Array);
        } catch (err) {
          // Set before the loop's end destroys the pack: the entry being written, and any after, fail with it.
          this.failed ??= err;
          throw err;
        }
      }
    })();
    this.done.catch(() => {}); // reported by finish(), or by the entry that was being written
  }

  /** An entry without content, or with `content` in memory. */
  add(header: EntryHeader, content?: Uint8Array | string): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(this.failed ?? err) : resolve());
      if (content !== undefined) this.tar.entry(header, content, cb);
      else this.tar.entry(header, cb);
    });
  }

  /**
   * A file's content from disk: the header's size in bytes (a file that grew meanwhile is cut
   * there, one that shrank is padded with zeros, so the archive stays whole).
   */
  async addFile(header: EntryHeader & { size: number }, path: string): Promise<void> {
    if (this.failed) throw this.failed;
    let entry!: ReturnType<Pack["entry"]>;
    const ended = new Promise<void>((resolve, reject) => {
      entry = this.tar.entry(header, (err) => (err ? reject(this.failed ?? err) : resolve()));
    });
    let written = 0;
    for await (const chunk of Bun.file(path).slice(0, header.size).stream()) {
      written += chunk.length;
      if (!entry.write(chunk)) await Promise.race([once(entry as never, "drain"), ended]);
      if (this.failed) break;
    }
    if (!this.failed) {
      if (written < header.size) entry.write(new Uint8Array(header.size - written));
      (entry as unknown as { end(): void }).end();
    }
    await ended;
  }

  async finish(): Promise<void> {
    this.tar.finalize();
    await this.done;
  }
}
