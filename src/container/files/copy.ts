// `cbox cp`: files between a container and this host, both ways, as docker cp copies them. The
// copy is a tar stream between two sides: the container's (`cbox _cp`, run as the container's
// root: container-side.ts) and the host's (this process, as the caller). Each side reads or
// writes its files with copy-side.ts, inside its own root folder.
import { closeSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { isatty } from "node:tty";
import { CboxError } from "../../errors.ts";
import { readChunks, writeAll } from "../../files.ts";
import { tarEntries } from "../../image/tar-reader.ts";
import { TarWriter } from "../../image/tar-writer.ts";
import { drain, entryParts, UnsafeEntryError, type TarEntry } from "../../image/unpack.ts";
import type { Paths } from "../../paths.ts";
import { openUnnamedFile } from "../../sys/shim.ts";
import { parseCopyOperands, type CopyOperands } from "./copy-rules.ts";
import { archiveSource, extractCopy, findSource, type ExtractOptions } from "./copy-side.ts";
import { BROKEN_PIPE, withContainerSide, type Side } from "./container-side.ts";
import { RootFolder } from "./root-folder.ts";

export interface CopyOptions {
  /** -a: keep the archive's owners (else root's inside a container, the caller's outside). */
  archive: boolean;
  /** -L: follow a link that is the source itself. */
  followLink: boolean;
}

const ON_HOST = "on this host";

export async function copyFiles(paths: Paths, operands: string[], opts: CopyOptions): Promise<number> {
  const op = parseCopyOperands(operands);
  return op.direction === "out" ? copyOut(paths, op, opts) : copyIn(paths, op, opts);
}

/** What the container's side is told: `_cp out|in ROOT WHERE PATH [FLAGS]`. */
function sideArgs(op: CopyOperands, flags: string[]): (side: Side) => string[] {
  return (side) => [op.direction, side.root, side.where, op.containerPath, ...flags];
}

async function copyOut(paths: Paths, op: CopyOperands, opts: CopyOptions): Promise<number> {
  const flags = opts.followLink ? ["--follow-link"] : [];
  if (op.hostPath === "-") {
    if (isatty(1)) throw new CboxError("cbox cp CONTAINER:SRC - writes a tar archive, and standard output is a terminal: redirect it (> files.tar) or give a folder");
    return withContainerSide(paths, op.container, sideArgs(op, flags), { kind: "direct" }, async () => {});
  }
  if (opts.archive && process.getuid!() !== 0) {
    throw new CboxError("cbox cp -a out of a container gives the files the container's owners, which only root may give here: leave -a out, and they are yours");
  }
  const dest = onHost(op.hostPath);
  const root = new RootFolder("/", ON_HOST);
  try {
    const entries = (fd: number) => tarEntries(readChunks(fd), `the archive of ${op.container}:${op.containerPath}`);
    return await withContainerSide(paths, op.container, sideArgs(op, flags), { kind: "pipe-out" }, (fd) => extractCopy(root, dest, entries(fd), { owners: opts.archive ? "archive" : "own", asIs: false }));
  } finally {
    root.close();
  }
}

async function copyIn(paths: Paths, op: CopyOperands, opts: CopyOptions): Promise<number> {
  const flags = opts.archive ? ["--archive"] : [];
  if (op.hostPath === "-") {
    const archive = await checkedStdin();
    try {
      return await withContainerSide(paths, op.container, sideArgs(op, [...flags, "--as-is"]), { kind: "direct", stdin: archive }, async () => {});
    } finally {
      closeSync(archive);
    }
  }
  const root = new RootFolder("/", ON_HOST);
  try {
    // Found before the container is touched: a missing source is this host's error.
    const source = findSource(root, onHost(op.hostPath), opts.followLink);
    return await withContainerSide(paths, op.container, sideArgs(op, flags), { kind: "pipe-in" }, async (fd) => {
      const tar = new TarWriter((chunk) => writeAll(fd, chunk));
      await archiveSource(root, source, tar);
      await tar.finish();
    });
  } finally {
    root.close();
  }
}

/** A host path as the host side looks it up: from /, relative ones from the working folder (no ".." undone before links are seen). */
function onHost(path: string): string {
  return path.startsWith("/") ? path : `${process.cwd()}/${path}`;
}


/**
 * A tar archive on stdin, copied into an unnamed file and its entries' names checked before the
 * container is touched, so a hostile archive changes nothing. Returns it open from its start.
 */
async function checkedStdin(): Promise<number> {
  if (isatty(0)) throw new CboxError("cbox cp - CONTAINER:DEST reads a tar archive from standard input, which is a terminal: redirect one (< files.tar)");
  const file = openUnnamedFile(tmpdir());
  try {
    let bytes = 0;
    for await (const chunk of readChunks(0)) {
      writeAll(file, chunk);
      bytes += chunk.length;
    }
    if (bytes === 0) throw new CboxError("cbox cp -: standard input held no tar archive");
    const names = reopen(file);
    try {
      await checkNames(tarEntries(readChunks(names), "standard input"));
    } finally {
      closeSync(names);
    }
    return reopen(file);
  } finally {
    closeSync(file);
  }
}

/**
 * Refuses what could reach outside the destination folder: `..` and absolute names, a path
 * through a symlink an earlier entry made, a hard link to anything but an earlier file.
 */
async function checkNames(entries: AsyncIterable<TarEntry>): Promise<void> {
  const links = new Set<string>();
  const files = new Set<string>();
  const place = "the folder it is copied into";
  for await (const entry of entries) {
    const h = entry.header;
    const parts = entryParts(h.name, h.name, "path", place);
    for (let i = 1; i < parts.length; i++) {
      const above = parts.slice(0, i).join("/");
      if (links.has(above)) throw new UnsafeEntryError(h.name, `path goes through the symlink "${above}" an earlier entry made`);
    }
    if (h.type === "link" && !files.has(entryParts(h.linkname ?? "", h.name, `hard link target "${h.linkname}"`, place).join("/"))) {
      throw new UnsafeEntryError(h.name, `hard link target "${h.linkname}" is not a file earlier in this archive`);
    }
    if (h.type === "symlink") links.add(parts.join("/"));
    else if (h.type !== "directory") files.add(parts.join("/"));
    await drain(entry);
  }
}

/** The unnamed file open again from its start (a new open file, its own offset). */
function reopen(fd: number): number {
  return openSync(`/proc/self/fd/${fd}`, "r");
}

/** The container's side of a copy out: SRC as a tar on stdout. 141 (quietly) when the reader goes away. */
export async function copyOutSide(rootPath: string, where: string, src: string, followLink: boolean): Promise<number> {
  const root = new RootFolder(rootPath, where);
  try {
    const source = findSource(root, src, followLink);
    const tar = new TarWriter((chunk) => writeAll(1, chunk));
    await archiveSource(root, source, tar);
    await tar.finish();
    return 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EPIPE") return BROKEN_PIPE;
    throw err;
  } finally {
    root.close();
  }
}

/** The container's side of a copy in: a tar from stdin into DEST. */
export async function copyInSide(rootPath: string, where: string, dest: string, opts: ExtractOptions): Promise<number> {
  const root = new RootFolder(rootPath, where);
  try {
    await extractCopy(root, dest, tarEntries(readChunks(0), "the archive to copy"), opts);
    return 0;
  } finally {
    root.close();
  }
}
