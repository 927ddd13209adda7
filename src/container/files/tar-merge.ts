// A tar archive merged into an existing folder, as docker cp does it: a folder merges with a
// folder, any other entry replaces what stands at its name, and a folder never replaces a
// non-folder or the other way round. Nothing is written through a symlink: every folder is
// opened from its parent with O_NOFOLLOW, and owners, modes and times are set on open fds, or
// with calls that do not follow a link.
import { closeSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lutimesSync, mkdirSync, symlinkSync, unlinkSync } from "node:fs";
import { warn } from "../../cli/output.ts";
import { CboxError, describeErrno, systemErrorText } from "../../errors.ts";
import { drain, UnsafeEntryError, writeFile, type TarEntry } from "../../image/unpack.ts";
import { makeDeviceNodes } from "../../sys/nodes.ts";
import { openFolderAt, pathOf, statAt, type At } from "./root-folder.ts";

/** Whose files they become: the archive's ids (-a), root's (into a container), or whoever extracts them (out of one). */
export type Owners = "archive" | "root" | "own";

type Headers = TarEntry["header"];

const NODE_TYPES: Record<string, number> = { "character-device": 0o020000, "block-device": 0o060000, fifo: 0o010000 };

export class TreeMerger {
  /**
   * The folders from the base down to the last entry's, open (a deep tree never holds more fds
   * than its depth; archives come folder by folder, so most entries reuse the chain).
   */
  private chain: { name: string; fd: number }[] = [];
  /** Non-folders this archive made, for its hard links. */
  private made = new Set<string>();
  /** Folders to give their owner, mode and time once filled, and what the archive says of them. */
  private folders: { parts: string[]; header: Headers }[] = [];
  private skippedNodes = 0;

  /** base: the folder extracted into, open (the caller's); shownBase: how messages name it; where: how they place it. */
  constructor(
    private base: number,
    private shownBase: string,
    private where: string,
    private owners: Owners,
  ) {}

  /** Adds the entry at parts below the base (no parts: the base folder itself); a hard link's target as placed likewise. */
  async add(parts: string[], entry: TarEntry, linkTarget?: string[]): Promise<void> {
    const h = entry.header;
    const isFolder = h.type === "directory";
    const shown = this.shown(parts);
    if (parts.length === 0 && !isFolder) throw new CboxError(`cannot overwrite the folder ${shown} with a non-folder`);
    if (parts.length === 0 || isFolder) {
      if (parts.length) this.makeFolder(parts, shown);
      this.folders.push({ parts, header: h });
      return drain(entry);
    }
    const at = { folder: this.folderAt(parts.slice(0, -1)), name: parts.at(-1)! };
    const existing = statAt(at);
    if (existing?.isDirectory()) throw new CboxError(`cannot overwrite the folder ${shown} with a non-folder`);
    if (existing) this.attempt(shown, () => unlinkSync(pathOf(at)));
    switch (h.type) {
      case "file":
      case "contiguous-file":
      case undefined:
        await this.writeFile(at, entry, shown);
        break;
      case "symlink":
        this.attempt(shown, () => {
          symlinkSync(h.linkname ?? "", pathOf(at));
          this.chown(h, (uid, gid) => lchownSync(pathOf(at), uid, gid));
          if (h.mtime) lutimesSync(pathOf(at), h.mtime, h.mtime);
        });
        break;
      case "link":
        if (!linkTarget || !this.made.has(linkTarget.join("/"))) throw new UnsafeEntryError(h.name, `hard link target "${h.linkname}" is not a file earlier in this archive`);
        this.withFolder(linkTarget.slice(0, -1), (folder) => this.attempt(shown, () => linkSync(pathOf({ folder, name: linkTarget.at(-1)! }), pathOf(at))));
        break;
      case "character-device":
      case "block-device":
      case "fifo":
        this.makeNode(at, h, shown);
        break;
      default:
        return drain(entry); // pax and GNU long-name headers are read by tar-stream itself
    }
    this.made.add(parts.join("/"));
    await drain(entry);
  }

  /** The folders' owners, modes and times, deepest first (filling them changed their times). */
  finish(): void {
    this.close();
    for (const f of this.folders.sort((a, b) => b.parts.length - a.parts.length)) this.withFolder(f.parts, (fd) => this.finishFd(fd, f.header, this.shown(f.parts)));
    if (this.skippedNodes) warn(`${this.skippedNodes} device nodes were not copied: a user namespace cannot make them`);
  }

  close(): void {
    for (const { fd } of this.chain.splice(0)) closeSync(fd);
  }

  /** A folder the archive names: made (0700 until finish() sets its mode) unless one is there; anything else there is refused. */
  private makeFolder(parts: string[], shown: string): void {
    const at = { folder: this.folderAt(parts.slice(0, -1)), name: parts.at(-1)! };
    const existing = statAt(at);
    if (existing && !existing.isDirectory()) throw new CboxError(`cannot overwrite ${shown}, which is not a folder, with a folder`);
    if (!existing) this.attempt(shown, () => mkdirSync(pathOf(at), { mode: 0o700 }));
  }

  /** The open folder at parts below the base, the chain moved there; a folder the archive skipped is made 0755. */
  private folderAt(parts: string[]): number {
    let same = 0;
    while (same < this.chain.length && same < parts.length && this.chain[same]!.name === parts[same]) same++;
    for (const { fd } of this.chain.splice(same)) closeSync(fd);
    for (const name of parts.slice(same)) {
      const at = { folder: this.chain.at(-1)?.fd ?? this.base, name };
      const st = statAt(at);
      const shown = this.shown(parts.slice(0, this.chain.length + 1));
      if (st && !st.isDirectory()) throw new CboxError(`cannot write into ${shown}: it is not a folder`);
      if (!st) this.attempt(shown, () => mkdirSync(pathOf(at), { mode: 0o755 }));
      this.chain.push({ name, fd: openFolderAt(at, this.where) });
    }
    return this.chain.at(-1)?.fd ?? this.base;
  }

  /** fn with the folder at parts open, beside the chain (which stays where it is). */
  private withFolder(parts: string[], fn: (fd: number) => void): void {
    const opened: number[] = [];
    try {
      let fd = this.base;
      for (const name of parts) {
        fd = openFolderAt({ folder: fd, name }, this.where);
        opened.push(fd);
      }
      fn(fd);
    } finally {
      for (const fd of opened) closeSync(fd);
    }
  }

  private async writeFile(at: At, entry: TarEntry, shown: string): Promise<void> {
    try {
      await writeFile(pathOf(at), entry, (fd) => this.finishFd(fd, entry.header, shown));
    } catch (err) {
      try {
        unlinkSync(pathOf(at)); // not left half made
      } catch {
        // it was never made
      }
      throw err instanceof CboxError ? err : new CboxError(`cannot write ${shown}: ${systemErrorText(err)}`);
    }
  }

  /** A device node or fifo (mknod, in a shim child); a user namespace may make fifos only, so devices are then left out. */
  private makeNode(at: At, h: Headers, shown: string): void {
    const failure = makeDeviceNodes([{ path: pathOf(at), mode: NODE_TYPES[h.type!]! | ((h.mode ?? 0o644) & 0o7777), major: h.devmajor ?? 0, minor: h.devminor ?? 0 }]);
    if (failure?.errno === 1 /* EPERM */ && h.type !== "fifo") {
      this.skippedNodes++;
      return;
    }
    if (failure) throw new CboxError(`cannot make ${shown}: ${describeErrno(failure.errno)}`);
    this.attempt(shown, () => {
      this.chown(h, (uid, gid) => lchownSync(pathOf(at), uid, gid));
      if (h.mtime) lutimesSync(pathOf(at), h.mtime, h.mtime);
    });
  }

  /** Owner, then mode (chown clears setuid and setgid bits), then times, on the open file. */
  private finishFd(fd: number, h: Headers, shown: string): void {
    this.attempt(shown, () => {
      this.chown(h, (uid, gid) => fchownSync(fd, uid, gid));
      fchmodSync(fd, (h.mode ?? 0o644) & 0o7777);
      if (h.mtime) futimesSync(fd, h.mtime, h.mtime);
    });
  }

  private chown(h: Headers, to: (uid: number, gid: number) => void): void {
    if (this.owners === "archive") to(h.uid ?? 0, h.gid ?? 0);
    else if (this.owners === "root") to(0, 0);
  }

  private shown(parts: string[]): string {
    return parts.length ? `${this.shownBase.replace(/\/$/, "")}/${parts.join("/")}` : this.shownBase;
  }

  /** Runs a file system step, naming the file when it fails. */
  private attempt(shown: string, step: () => void): void {
    try {
      step();
    } catch (err) {
      throw new CboxError(`cannot write ${shown}: ${systemErrorText(err)}`);
    }
  }
}
