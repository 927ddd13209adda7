// One file as a tar entry, from what lstat says of it: the header, a link's target, a file's
// content, and a file with several names written once then hard-linked. Shared by everything
// that writes a tree as a tar (image layers, a container's files).
import type { Stats } from "node:fs";
import type { EntryHeader, TarWriter } from "./tar-writer.ts";

const major = (rdev: number) => (rdev >> 8) & 0xfff;
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >> 12) & 0xfff00);

/** Where an entry's link target and content come from; content undefined when the file went meanwhile. */
export interface EntrySource {
  /** undefined: the link is gone (a running container's files change while they are read). */
  linkTarget(): string | undefined;
  /** A path to read the content from, and what to do once it is read. */
  openContent(st: Stats): { path: string; close(): void } | undefined;
}

/** The first name written of each file that has several (dev:ino), so the others become hard links to it. */
export class HardLinks {
  private first = new Map<string, string>();

  /** The name st was first written as, if any. */
  firstName(st: Stats): string | undefined {
    return st.nlink > 1 ? this.first.get(`${st.dev}:${st.ino}`) : undefined;
  }

  written(st: Stats, name: string): void {
    if (st.nlink > 1) this.first.set(`${st.dev}:${st.ino}`, name);
  }
}

/**
 * Writes the entry named `name` as st describes it, owned by `owner` (default: st's own ids).
 * Sockets are left out, as tar leaves them, and so is a file or link gone before it could be read.
 */
export async function addEntry(tar: TarWriter, name: string, st: Stats, from: EntrySource, links: HardLinks, owner = { uid: st.uid, gid: st.gid }): Promise<void> {
  const base = { name, mode: st.mode & 0o7777, mtime: st.mtime, ...owner };
  let header: EntryHeader;
  if (st.isDirectory()) header = { ...base, name: `${name}/`, type: "directory" };
  else if (st.isSymbolicLink()) {
    const linkname = from.linkTarget();
    if (linkname === undefined) return;
    header = { ...base, type: "symlink", linkname };
  }
  else if (st.isCharacterDevice() || st.isBlockDevice()) header = { ...base, type: st.isCharacterDevice() ? "character-device" : "block-device", devmajor: major(st.rdev), devminor: minor(st.rdev) };
  else if (st.isFIFO()) header = { ...base, type: "fifo" };
  else if (st.isFile()) {
    const first = links.firstName(st);
    if (first !== undefined) header = { ...base, type: "link", linkname: first };
    else {
      const content = from.openContent(st);
      if (!content) return;
      try {
        await tar.addFile({ ...base, type: "file", size: st.size }, content.path);
      } finally {
        content.close();
      }
      links.written(st, name);
      return;
    }
  } else return;
  await tar.add(header);
}
