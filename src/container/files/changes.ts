// docker diff's list, from what a container's upper layer holds next to what its image shows at
// the same paths. Pure: the walk (diff.ts) feeds it entries in docker's order (depth first, each
// folder's names sorted), so the list comes out as docker prints it.
import { KERNEL_MOUNT_POINTS } from "../../linux/mounts.ts";

export type ChangeKind = "A" | "C" | "D";

export interface Change {
  kind: ChangeKind;
  path: string;
}

/** What is at a path, as far as diff compares: a folder, its size, mode and modification time. */
export interface Seen {
  folder: boolean;
  size: number;
  mode: number;
  mtimeMs: number;
}

/** An upper layer entry: overlayfs' whiteout (deleted), or a folder marked opaque (what was below is gone). */
export interface UpperEntry extends Seen {
  whiteout: boolean;
  opaque: boolean;
}

export class Changes {
  readonly list: Change[] = [];
  /** Folders already in the list, so a parent is listed once. */
  private listed = new Set<string>();

  /**
   * Adds what the upper layer's `path` means; `below` is what the image shows there. A folder that
   * only holds changes (same size, mode and time as below) is not listed itself, but the parent of
   * an added or deleted path always is, as changed.
   */
  add(path: string, upper: UpperEntry, below: Seen | undefined): void {
    let kind: ChangeKind;
    if (upper.whiteout || (upper.folder && upper.opaque && below)) kind = "D";
    else if (!below) kind = "A";
    else if (upper.folder && below.folder && upper.size === below.size && upper.mode === below.mode && upper.mtimeMs === below.mtimeMs) return;
    else kind = "C";
    if (upper.folder && !upper.whiteout) this.listed.add(path);
    if (kind !== "C") {
      const parent = path.slice(0, path.lastIndexOf("/")) || "/";
      if (parent !== "/" && !this.listed.has(parent)) {
        this.list.push({ kind: "C", path: parent });
        this.listed.add(parent);
      }
    }
    this.list.push({ kind, path });
  }
}

/**
 * The paths cbox itself makes in every container's root, for the kernel's file systems and its
 * generated /etc files, which docker keeps in an init layer below the container's: not the
 * container's changes.
 */
const MOUNT_POINTS = [...KERNEL_MOUNT_POINTS, "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

/**
 * The list without cbox's mount points (and what is below them), nor a folder listed only
 * because one of them was made in it (as /etc is when the image had no /etc/resolv.conf).
 */
export function withoutMountPoints(changes: Change[]): Change[] {
  const under = (path: string, base: string) => path.startsWith(`${base}/`);
  const ours = (c: Change) => MOUNT_POINTS.some((m) => c.path === m || under(c.path, m));
  const dropped = changes.filter(ours);
  const kept = changes.filter((c) => !ours(c));
  const onlyOurs = (c: Change) => c.kind !== "D" && dropped.some((d) => under(d.path, c.path)) && !kept.some((o) => under(o.path, c.path));
  return kept.filter((c) => !onlyOurs(c));
}
