// A container's files as its overlay shows them, read from the layer folders themselves (the
// upper layer, then the image's, topmost first), mounted or not: the topmost layer that has a
// name shows it; a whiteout (a 0/0 character device) hides it below; a folder merges with the
// folders below it unless it is opaque (the overlay.opaque xattr) or something else is in
// between. Folders are entered through open fds without following links (RootFolder's way), so
// a running container changing its upper layer meanwhile cannot lead a walk out of it.
import { closeSync, constants, openSync, type Stats } from "node:fs";
import { CboxError, systemErrorText } from "../../errors.ts";
import { isWhiteout } from "../../image/layers.ts";
import { getXattr } from "../../sys/nodes.ts";
import { folderNames, openFolderAt, pathOf, statAt, type At } from "./root-folder.ts";

/** A name as the stack shows it: from the topmost layer that has it. */
export interface Entry {
  st: Stats;
  layer: number;
  at: At;
  /** A whiteout: deleted here (list() gives them, for diff; they show nothing). */
  whiteout: boolean;
}

/** A folder of the merged view: the layers it merges, topmost first, each open. */
export interface Folder {
  merged: { layer: number; fd: number }[];
}

const WHERE = "in the container's layers";

export class LayerStack {
  private roots: number[] = [];

  /** layers: topmost first. opaqueXattr: the one the container's overlay reads (trusted.overlay.opaque, or user.overlay.opaque in a user namespace). */
  constructor(
    layers: string[],
    private opaqueXattr: string,
  ) {
    try {
      for (const layer of layers) this.roots.push(openSync(layer, constants.O_RDONLY | constants.O_DIRECTORY));
    } catch (err) {
      this.close();
      throw new CboxError(`cannot read the container's layers: ${systemErrorText(err)}`);
    }
  }

  /** The root folder, merged from every layer. */
  root(): Folder {
    return { merged: this.roots.map((fd, layer) => ({ layer, fd })) };
  }

  /** What the folder holds, sorted by name (as docker's walks go), whiteouts included. */
  list(folder: Folder): [string, Entry][] {
    const seen = new Map<string, Entry>();
    for (const { layer, fd } of folder.merged) {
      for (const name of folderNames(fd, WHERE)) {
        if (seen.has(name)) continue;
        const entry = this.entry(layer, { folder: fd, name });
        if (entry) seen.set(name, entry);
      }
    }
    return [...seen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** What the folder shows at name: the topmost layer that has it decides (a whiteout shows nothing). */
  find(folder: Folder, name: string): Entry | undefined {
    for (const { layer, fd } of folder.merged) {
      const entry = this.entry(layer, { folder: fd, name });
      if (entry) return entry.whiteout ? undefined : entry;
    }
    return undefined;
  }

  /**
   * The folder an entry of `parent` is, open: its own layer's, then the same name in the layers
   * below that parent merges, down to an opaque one (or a whiteout or a non-folder, which hide the rest).
   */
  open(entry: Entry, parent: Folder): Folder {
    const merged = [{ layer: entry.layer, fd: openFolderAt(entry.at, WHERE) }];
    if (!this.isOpaque(entry.at)) {
      for (const { layer, fd } of parent.merged.filter((m) => m.layer > entry.layer)) {
        const at = { folder: fd, name: entry.at.name };
        const st = statAt(at);
        if (!st) continue;
        if (!st.isDirectory()) break;
        merged.push({ layer, fd: openFolderAt(at, WHERE) });
        if (this.isOpaque(at)) break;
      }
    }
    return { merged };
  }

  /** Closes a folder open() gave. */
  closeFolder(folder: Folder): void {
    for (const { fd } of folder.merged) closeSync(fd);
  }

  isOpaque(at: At): boolean {
    return getXattr(pathOf(at), this.opaqueXattr) === "y";
  }

  close(): void {
    for (const fd of this.roots.splice(0)) closeSync(fd);
  }

  private entry(layer: number, at: At): Entry | undefined {
    const st = statAt(at);
    return st && { st, layer, at, whiteout: isWhiteout(st) };
  }
}
