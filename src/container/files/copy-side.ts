// One side of a cbox cp: the source's files into a tar archive, or a tar archive into the
// destination's files, under docker cp's rules. The same code serves the container's side (run
// as the container's root, its root folder being /proc/PID/root or its mounted overlay) and the
// host's (run as the caller, the root folder being /).
import { closeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { addEntry, HardLinks } from "../../image/tar-entry.ts";
import { KERNEL_MOUNT_POINTS } from "../../linux/mounts.ts";
import type { TarWriter } from "../../image/tar-writer.ts";
import { entryParts, UnsafeEntryError, type TarEntry } from "../../image/unpack.ts";
import { placedParts, placeSource, sourceName } from "./copy-rules.ts";
import { folderNames, openFolderAt, sourceAt, statAt, type At, type RootFolder } from "./root-folder.ts";
import { TreeMerger, type Owners } from "./tar-merge.ts";

/** A source found: where it is, and the name its archive gives it first. */
export interface Source {
  at: At & { shown: string };
  top: string;
}

/** Finds the source (a path as given: "SRC/." is what the folder holds), or says in one line why it cannot. */
export function findSource(root: RootFolder, given: string, followLink: boolean): Source {
  const source = sourceName(given);
  const at = root.find(source.path, followLink || source.folderOnly);
  const st = statAt(at);
  if (!st) throw new CboxError(`${given}: no such file or folder ${root.where}`);
  if (source.folderOnly && !st.isDirectory()) throw new CboxError(`${given} is not a folder ${root.where}`);
  return { at, top: source.top };
}

/** Writes the source as a tar: its own entry first, named as docker names it, then what it holds. */
export async function archiveSource(root: RootFolder, source: Source, tar: TarWriter): Promise<void> {
  await archiveTree(root, source.at, source.top, tar, { links: new HardLinks(), path: source.at.shown, rootDev: statAt({ folder: root.fd, name: "." })!.dev });
}

/** A walk's state: the path where it is (in its root), hard links met, and the root's device. */
interface Walk {
  links: HardLinks;
  path: string;
  rootDev: number;
}

/**
 * The entry at `at` as `name`, then, for a folder, what it holds (sorted, as docker's walk); links
 * stay links. The kernel's file systems a running container has mounted (/proc...) are folders
 * there, their contents left out, as they are not the container's files.
 */
async function archiveTree(root: RootFolder, at: At, name: string, tar: TarWriter, walk: Walk): Promise<void> {
  const st = statAt(at);
  if (!st) return; // gone since its folder was read
  await addEntry(tar, name, st, sourceAt(at, root.where), walk.links);
  if (!st.isDirectory() || (KERNEL_MOUNT_POINTS.includes(walk.path) && st.dev !== walk.rootDev)) return;
  const folder = openFolderAt(at, root.where);
  try {
    for (const child of folderNames(folder, `${walk.path} ${root.where}`)) {
      await archiveTree(root, { folder, name: child }, `${name}/${child}`, tar, { ...walk, path: `${walk.path.replace(/\/$/, "")}/${child}` });
    }
  } finally {
    closeSync(folder);
  }
}

export interface ExtractOptions {
  owners: Owners;
  /** A tar from stdin: dest must be a folder and the entries go into it as they are named. Else the archive is a cbox cp source's, placed by docker's rules. */
  asIs: boolean;
}

/** Merges the archive's entries into the destination (a path as given), as docker cp places them. */
export async function extractCopy(root: RootFolder, dest: string, entries: AsyncIterable<TarEntry>, opts: ExtractOptions): Promise<void> {
  let merger: TreeMerger | undefined;
  let place: { top: string; name: string } | undefined;
  try {
    for await (const entry of entries) {
      const parts = entryParts(entry.header.name, entry.header.name, "path", "the folder it is copied into");
      if (!merger) ({ merger, place } = placeArchive(root, dest, entry, parts, opts));
      const placedAs = (p: string[], what: string) => {
        const placed = place ? placedParts(p, place.top, place.name) : p;
        if (!placed) throw new UnsafeEntryError(entry.header.name, `${what} is outside the archive's top entry "${place!.top}"`);
        return placed;
      };
      const link = entry.header.type === "link" ? entryParts(entry.header.linkname ?? "", entry.header.name, `hard link target "${entry.header.linkname}"`, "the folder it is copied into") : undefined;
      await merger.add(placedAs(parts, "its path"), entry, link && placedAs(link, "its hard link target"));
    }
    merger?.finish();
  } finally {
    merger?.close();
  }
}

/**
 * Where the archive goes, decided at its first entry: a tar from stdin into the destination
 * folder as it is; a cbox cp source's by docker's rules, its top entry renamed to where it lands.
 */
function placeArchive(root: RootFolder, dest: string, first: TarEntry, parts: string[], opts: ExtractOptions): { merger: TreeMerger; place?: { top: string; name: string } } {
  const at = root.find(dest, true);
  const st = statAt(at);
  const merger = (folder: number, shown: string) => new TreeMerger(folder, shown, root.where, opts.owners);
  if (opts.asIs) {
    if (!st?.isDirectory()) throw new CboxError(`${dest} must be an existing folder ${root.where} to extract a tar archive into`);
    return { merger: merger(root.openFolder(at), at.shown) };
  }
  if (parts.length > 1) throw new UnsafeEntryError(first.header.name, "the archive does not start with its top entry");
  const top = parts[0] ?? ".";
  const placement = placeSource(dest, { exists: st !== undefined, folder: st?.isDirectory() ?? false }, { folder: first.header.type === "directory", top });
  if (placement.into === "folder") return { merger: merger(root.openFolder(at), at.shown), place: { top, name: placement.name } };
  return { merger: merger(at.folder, at.shown.replace(/\/[^/]*$/, "") || "/"), place: { top, name: at.name } };
}
