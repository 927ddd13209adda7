// Writing tar archives with tar-stream: entries go in one after another (each waits for the
// last), file content streamed from disk; the archive's bytes go to a sink as they come.
import { once } from "node:events";
import { pack, type Header, type Pack } from "tar-stream";

export type EntryHeader = Partial<Header> & Pick<Header, "name">;

export class TarWriter {
  private tar: Pack = pack();
  private readonly done: Promise<void>;

  constructor(sink: (chunk: Uint8Array) => void | Promise<void>) {
    const tar = this.tar;
    this.done = (async () => {
      for await (const chunk of tar) await sink(chunk as Uint8Array);
    })();
  }

  /** An entry without content, or with `content` in memory. */
  add(header: EntryHeader, content?: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content !== undefined) this.tar.entry(header, content, cb);
      else this.tar.entry(header, cb);
    });
  }

  /** A file's content from disk; the header's size must be its size. */
  async addFile(header: EntryHeader & { size: number }, path: string): Promise<void> {
    let entry!: ReturnType<Pack["entry"]>;
    const ended = new Promise<void>((resolve, reject) => {
      entry = this.tar.entry(header, (err) => (err ? reject(err) : resolve()));
    });
    for await (const chunk of Bun.file(path).stream()) {
      if (!entry.write(chunk)) await once(entry as never, "drain");
    }
    (entry as unknown as { end(): void }).end();
    await ended;
  }

  async finish(): Promise<void> {
    this.tar.finalize();
    await this.done;
  }
}
