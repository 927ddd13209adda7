// A tree of files seen from its root folder, as a container sees its own: every lookup goes from
// an open folder to the next with O_NOFOLLOW, and symlinks are followed by cbox itself, inside
// the root (walkInRoot). So no link, even one swapped in by a running container meanwhile, can
// take a lookup out of the root: the kernel never follows one, and ".." never climbs above it.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { CboxError, systemErrorText } from "../../errors.ts";
import type { EntrySource } from "../../image/tar-entry.ts";
import { walkInRoot, type Found } from "../target-path.ts";

const FOLDER = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** An entry named in an open folder: its path goes through the folder's fd, never looked up again. */
export interface At {
  folder: number;
  name: string;
}

export function pathOf(at: At): string {
  return `/proc/self/fd/${at.folder}/${at.name}`;
}

/** The entry's own stats (a link is not followed); undefined when there is none. */
export function statAt(at: At): Stats | undefined {
  try {
    return lstatSync(pathOf(at));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new CboxError(`cannot look at ${at.name}: ${systemErrorText(err)}`);
  }
}

/** Opens the folder at `at`, refusing a link or anything else in its place. where: for the message. */
export function openFolderAt(at: At, where: string): number {
  try {
    return openSync(pathOf(at), FOLDER);
  } catch (err) {
    throw new CboxError(`cannot open the folder ${at.name} ${where}: ${systemErrorText(err)}`);
  }
}

/** The names in the open folder fd, sorted (as docker's walks go); shown: how a failure names it. */
export function folderNames(fd: number, shown: string): string[] {
  try {
    return readdirSync(`/proc/self/fd/${fd}`).sort();
  } catch (err) {
    throw new CboxError(`cannot read the folder ${shown}: ${systemErrorText(err)}`);
  }
}

/** An entry as a tar entry's source: a file's content through an fd opened without following a link, and only if it is still the file lstat saw. */
export function sourceAt(at: At, where: string): EntrySource {
  return {
    // The link itself: its folder is reached through an fd. Gone or replaced since lstat: left out, as a vanished file is.
    linkTarget: () => {
      try {
        return readlinkSync(pathOf(at), "utf8");
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "EINVAL") return undefined;
        throw new CboxError(`cannot read the link ${at.name} ${where}: ${systemErrorText(err)}`);
      }
    },
    openContent: (st: Stats) => {
      let fd: number;
      try {
        fd = openSync(pathOf(at), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw new CboxError(`cannot read ${at.name} ${where}: ${systemErrorText(err)}`);
      }
      const now = fstatSync(fd);
      if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) {
        closeSync(fd);
        return undefined; // replaced meanwhile
      }
      return { path: `/proc/self/fd/${fd}`, close: () => closeSync(fd) };
    },
  };
}

export class RootFolder {
  readonly fd: number;
  /** Every folder opened on the way, closed together. */
  private opened: number[] = [];

  /** root: the folder that is "/" for the tree (a container's /proc/PID/root, or the host's /); where: how messages place it ("in container web"). */
  constructor(
    root: string,
    readonly where: string,
  ) {
    try {
      this.fd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (err) {
      throw new CboxError(`cannot open the root of the files ${where}: ${systemErrorText(err)}`);
    }
  }

  /**
   * Where path leads inside the root: the folder holding its last part, and that part (which may
   * not exist). Links on the way are followed inside the root; the last one only when followLast.
   * A path that ends at the root itself is the root's "." in the root.
   */
  find(path: string, followLast: boolean): At & { shown: string } {
    const stack: At[] = [];
    const top = () => stack.at(-1)?.folder ?? this.fd;
    const shown = (name?: string) => `/${[...stack.map((s) => s.name), ...(name === undefined ? [] : [name])].join("/")}`;
    const last = walkInRoot(
      path,
      {
        look: (name): Found => {
          const st = statAt({ folder: top(), name });
          return st?.isSymbolicLink() ? { link: readlinkSync(pathOf({ folder: top(), name }), "utf8") } : st?.isDirectory() ? "folder" : "other";
        },
        enter: (name, found) => {
          if (found !== "folder") {
            const what = statAt({ folder: top(), name }) ? "is not a folder" : "does not exist";
            throw new CboxError(`${path}: ${shown(name)} ${what} ${this.where}`);
          }
          stack.push({ folder: this.openFolder({ folder: top(), name }), name });
        },
        up: () => stack.pop(),
        toRoot: () => (stack.length = 0),
      },
      followLast,
    );
    if (last !== undefined) return { folder: top(), name: last, shown: shown(last) };
    const self = stack.pop();
    return self ? { folder: top(), name: self.name, shown: shown(self.name) } : { folder: this.fd, name: ".", shown: "/" };
  }

  /** Opens the folder at `at`, refusing a link or anything else in its place; closed with the root. */
  openFolder(at: At): number {
    const fd = openFolderAt(at, this.where);
    this.opened.push(fd);
    return fd;
  }

  close(): void {
    for (const fd of this.opened.splice(0)) closeSync(fd);
    closeSync(this.fd);
  }
}
