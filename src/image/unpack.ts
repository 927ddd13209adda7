// Safe extraction of an image's tar stream into an empty folder. Hostile archives are refused
// with the entry named: `..` or absolute paths, paths through a symlink an earlier entry made,
// hard links leading out, names over the kernel's limits. Nothing is ever written through a
// symlink: every path is checked against the symlinks this extraction created, and files are
// opened with O_NOFOLLOW | O_EXCL after whatever stood there is removed.
import {
  closeSync,
  constants,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  chmodSync,
  utimesSync,
  chownSync,
} from "node:fs";
import { join } from "node:path";
import type { Headers } from "tar-stream";
import { CboxError, describeErrno } from "../errors.ts";
import { makeDeviceNodes, setXattrs, type DeviceNode } from "../sys/nodes.ts";

export interface UnpackOptions {
  /** Keep the archive's owners and make device nodes: only root may. */
  asRoot: boolean;
  /**
   * An image layer: `.wh.NAME` entries become overlayfs whiteouts (a 0/0 character device, which
   * the kernel lets anyone make) and `.wh..wh..opq` marks its folder opaque (an xattr).
   */
  layer?: boolean;
}

export interface UnpackSummary {
  entries: number;
  bytes: number;
  skippedDevices: number;
  /** Layers only: folders made opaque, relative paths. */
  opaque: string[];
  whiteouts: number;
}

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";
/**
 * overlayfs reads trusted.overlay.* when mounted in the host's user namespace (root's
 * containers) and user.overlay.* when mounted with userxattr (in a user namespace); root's
 * layers serve both, an ordinary user's only the second (trusted.* is root's alone).
 */
const OPAQUE_XATTRS = { root: ["trusted.overlay.opaque", "user.overlay.opaque"], user: ["user.overlay.opaque"] };

const NAME_MAX = 255;
const PATH_MAX = 4095;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

export class UnsafeEntryError extends CboxError {
  constructor(name: string, reason: string) {
    super(`refusing archive entry "${name.length > 100 ? `${name.slice(0, 100)}...` : name}": ${reason}`);
  }
}

interface Tail {
  path: string;
  mode: number;
  mtime?: Date;
  uid: number;
  gid: number;
}

/**
 * An entry's path as its parts below the folder it is unpacked into (no "", ".", or trailing
 * "/"), or UnsafeEntryError: `..` or an absolute path, names over the kernel's limits. `subject`
 * is what the reason speaks of: the entry's own path, or its hard link target; `root` names the folder.
 */
export function entryParts(raw: string, entryName: string, subject = "path", root = "the image root"): string[] {
  const refuse = (reason: string) => new UnsafeEntryError(entryName, reason);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (raw.startsWith("/") || parts.includes("..")) throw refuse(`${subject} leaves ${root}`);
  if (parts.some((p) => Buffer.byteLength(p) > NAME_MAX)) throw refuse(`name longer than ${NAME_MAX} bytes`);
  if (Buffer.byteLength(parts.join("/")) > PATH_MAX) throw refuse(`path longer than ${PATH_MAX} bytes`);
  return parts;
}

export interface TarEntry {
  header: Headers;
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>;
}

export class Unpacker {
  private symlinks = new Set<string>();
  /** Folders known to exist (relative paths), so parents are made once. */
  private knownFolders = new Set<string>();
  /** Every path this extraction made or queued (relative): nothing else can be in the folder. */
  private made = new Set<string>();
  private folders: Tail[] = [];
  private nodes: (DeviceNode & Tail)[] = [];
  private summary: UnpackSummary = { entries: 0, bytes: 0, skippedDevices: 0, opaque: [], whiteouts: 0 };

  constructor(
    private root: string,
    private opts: UnpackOptions,
  ) {}

  async add(entry: TarEntry): Promise<void> {
    const h = entry.header;
    const rel = this.checkPath(h.name, h.name);
    if (!rel && h.type !== "directory") throw new UnsafeEntryError(h.name, "path names the image root itself");
    const path = rel ? join(this.root, rel) : this.root;
    const tail: Tail = { path, mode: (h.mode ?? 0o644) & 0o7777, mtime: h.mtime, uid: h.uid ?? 0, gid: h.gid ?? 0 };
    this.summary.entries++;
    // aufs' own bookkeeping (.wh..wh.plnk/ and the like) is never part of the image.
    if (this.opts.layer && rel.split("/").some((p) => p.startsWith(`${WHITEOUT}${WHITEOUT}`) && p !== OPAQUE)) return drain(entry);
    if (rel) this.makeParents(rel);
    const base = rel.slice(rel.lastIndexOf("/") + 1);
    if (this.opts.layer && base.startsWith(WHITEOUT)) {
      this.addWhiteout(rel, base, tail);
      return drain(entry);
    }
    switch (h.type) {
      case "directory":
        if (rel) this.makeFolder(path, rel);
        this.knownFolders.add(rel);
        this.made.add(rel);
        this.folders.push(tail);
        break;
      case "file":
      case "contiguous-file":
      case undefined:
        this.clear(path);
        this.made.add(rel);
        this.summary.bytes += await writeFile(path, entry);
        this.finishFile(tail);
        return;
      case "symlink":
        this.clear(path);
        symlinkSync(h.linkname ?? "", path);
        this.made.add(rel);
        this.symlinks.add(rel);
        this.own(tail, true);
        lutimesSync(path, tail.mtime ?? new Date(), tail.mtime ?? new Date());
        break;
      case "link": {
        const target = this.checkPath(h.linkname ?? "", h.name, `hard link target "${h.linkname}"`);
        if (!this.made.has(target) || this.knownFolders.has(target)) throw new UnsafeEntryError(h.name, `hard link target "${h.linkname}" is not a file earlier in this archive`);
        this.clear(path);
        linkSync(join(this.root, target), path);
        this.made.add(rel);
        if (this.symlinks.has(target)) this.symlinks.add(rel);
        break;
      }
      case "character-device":
      case "block-device":
      case "fifo":
        this.addNode(h, tail);
        break;
      default:
        break; // pax and GNU long-name headers are read by tar-stream itself
    }
    await drain(entry);
  }

  /** Device nodes, then folder owners, modes and times (deepest first: children change them). */
  finish(): UnpackSummary {
    const failure = makeDeviceNodes(this.nodes);
    if (failure) {
      const node = this.nodes[failure.index];
      throw new CboxError(`cannot create the device node ${node ? node.path : "(unknown)"}: ${describeErrno(failure.errno)}`);
    }
    for (const node of this.nodes) this.finishFile(node);
    this.markOpaque();
    for (const folder of this.folders.reverse()) {
      // A later entry may have put a symlink where this folder was: never follow it.
      if (lstatSync(folder.path, { throwIfNoEntry: false })?.isDirectory()) this.finishFile(folder);
    }
    return this.summary;
  }

  /** `.wh..wh..opq` marks its folder; `.wh.NAME` hides NAME of the layers below. */
  private addWhiteout(rel: string, base: string, tail: Tail): void {
    const parent = rel.slice(0, Math.max(0, rel.length - base.length - 1));
    if (base === OPAQUE) {
      if (!parent) return; // the root folder cannot be opaque: nothing is below it to hide
      if (!this.summary.opaque.includes(parent)) this.summary.opaque.push(parent);
      return;
    }
    const hidden = (parent ? `${parent}/` : "") + base.slice(WHITEOUT.length);
    if (hidden === parent || base === WHITEOUT) throw new UnsafeEntryError(rel, "a whiteout without a name");
    const path = join(this.root, hidden);
    this.clear(path);
    this.made.add(hidden);
    this.summary.whiteouts++;
    this.nodes.push({ path, mode: S_IFCHR, major: 0, minor: 0, uid: 0, gid: 0, mtime: tail.mtime });
  }

  private markOpaque(): void {
    const names = this.opts.asRoot ? OPAQUE_XATTRS.root : OPAQUE_XATTRS.user;
    // A later entry may have replaced the folder: only folders are marked, never through a symlink.
    const folders = this.summary.opaque.filter((rel) => lstatSync(join(this.root, rel), { throwIfNoEntry: false })?.isDirectory());
    this.summary.opaque = folders;
    const attrs = folders.flatMap((rel) => names.map((name) => ({ path: join(this.root, rel), name, value: "y" })));
    const failure = setXattrs(attrs);
    if (failure) {
      const attr = attrs[failure.index];
      throw new CboxError(`cannot mark ${attr ? attr.path : "a folder"} opaque (${attr?.name ?? "xattr"}): ${describeErrno(failure.errno)}; the layer store's filesystem must support extended attributes`);
    }
  }

  /** The path relative to the root (entryParts), refused when it goes through a symlink an earlier entry made. */
  private checkPath(raw: string, entryName: string, subject = "path"): string {
    const parts = entryParts(raw, entryName, subject);
    for (let i = 1; i < parts.length; i++) {
      const link = parts.slice(0, i).join("/");
      if (this.symlinks.has(link)) throw new UnsafeEntryError(entryName, `${subject} goes through the symlink "${link}"`);
    }
    return parts.join("/");
  }

  /** Removes what stands at path unless it is a folder (a later entry may replace a file). */
  /**
   * Removes what an earlier entry put at path (the folder starts empty, so only what we made can
   * stand there). Whatever waits for finish() at or under it goes too: a symlink may take its
   * place, and finish() must never reach through that to a folder outside.
   */
  private clear(path: string): void {
    const rel = path.slice(this.root.length + 1);
    if (!this.made.has(rel)) return;
    const under = (p: string, base: string) => p === base || p.startsWith(`${base}/`);
    this.folders = this.folders.filter((t) => !under(t.path, path));
    this.nodes = this.nodes.filter((t) => !under(t.path, path));
    for (const set of [this.made, this.knownFolders, this.symlinks]) for (const p of set) if (under(p, rel)) set.delete(p);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) rmSync(path, { recursive: true });
    else if (st) unlinkSync(path);
  }

  private makeFolder(path: string, rel: string): void {
    if (this.knownFolders.has(rel)) return;
    this.clear(path);
    mkdirSync(path, { mode: 0o700 });
  }

  private addNode(h: Headers, tail: Tail): void {
    const kind = h.type === "fifo" ? S_IFIFO : h.type === "block-device" ? S_IFBLK : S_IFCHR;
    if (kind !== S_IFIFO && !this.opts.asRoot) {
      this.summary.skippedDevices++;
      return;
    }
    this.clear(tail.path);
    this.made.add(tail.path.slice(this.root.length + 1));
    this.nodes.push({ ...tail, mode: kind | tail.mode, major: h.devmajor ?? 0, minor: h.devminor ?? 0 });
  }

  /** Parents missing from the archive are made 0755; each is looked at once. */
  private makeParents(rel: string): void {
    const parent = rel.slice(0, Math.max(0, rel.lastIndexOf("/")));
    if (!parent || this.knownFolders.has(parent)) return;
    mkdirSync(join(this.root, parent), { recursive: true, mode: 0o755 });
    for (let p = parent; p && !this.knownFolders.has(p); p = p.slice(0, Math.max(0, p.lastIndexOf("/")))) {
      this.knownFolders.add(p);
      this.made.add(p);
    }
  }

  /** Files we create as root are root's already: chown only what belongs to someone else. */
  private own(tail: Tail, link: boolean): void {
    if (!this.opts.asRoot || (tail.uid === 0 && tail.gid === 0)) return;
    (link ? lchownSync : chownSync)(tail.path, tail.uid, tail.gid);
  }

  /** Owner first: chown clears setuid and setgid bits, so the mode comes after it. */
  private finishFile(tail: Tail): void {
    this.own(tail, false);
    chmodSync(tail.path, tail.mode & 0o7777);
    if (tail.mtime) utimesSync(tail.path, tail.mtime, tail.mtime);
  }
}

/**
 * Makes the file at path (which must not exist; a link there is never followed) with the entry's
 * content; `done` gets its fd before it is closed. Returns the bytes written.
 */
export async function writeFile(path: string, entry: TarEntry, done?: (fd: number) => void): Promise<number> {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  let bytes = 0;
  try {
    for await (const chunk of entry) {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      bytes += chunk.length;
    }
    done?.(fd);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

export async function drain(entry: TarEntry): Promise<void> {
  for await (const _ of entry) {
    // entries without data still need their stream consumed before the next one
  }
}
