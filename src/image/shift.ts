// A copy of an image's root whose owners are shifted into a user namespace's range, for
// filesystems that cannot idmap a mount. One copy per range, kept next to the image
// (images/<id>/rootfs-<uid start>-<gid start>) and shared by every container of that range;
// built under a temporary name and renamed into place, so a half-made copy is never used.
import { chmodSync, copyFileSync, constants, existsSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import { dirname, join } from "node:path";
import { warn } from "../cli/output.ts";

export interface Shift {
  uid: number;
  gid: number;
}

export function shiftedRootPath(rootfs: string, shift: Shift): string {
  return join(dirname(rootfs), `rootfs-${shift.uid}-${shift.gid}`);
}

/** The shifted copy of rootfs, made now unless it exists. */
export function shiftedRoot(rootfs: string, shift: Shift): string {
  const target = shiftedRootPath(rootfs, shift);
  if (existsSync(target)) return target;
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    copyShifted(rootfs, tmp, shift, new Map());
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // another cbox made the same copy meanwhile: use theirs
    if (!existsSync(target)) throw err;
  }
  return target;
}

/** Copies src to dst with owners moved up by shift; hard links stay links (inode -> first copy). */
function copyShifted(src: string, dst: string, shift: Shift, links: Map<number, string>): void {
  const st = lstatSync(src);
  if (st.isDirectory()) {
    mkdirSync(dst);
    for (const name of readdirSync(src)) copyShifted(join(src, name), join(dst, name), shift, links);
  } else if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dst);
  } else if (st.isFile()) {
    const first = st.nlink > 1 ? links.get(st.ino) : undefined;
    if (first) {
      linkSync(first, dst);
      return;
    }
    copyFileSync(src, dst, constants.COPYFILE_FICLONE);
    if (st.nlink > 1) links.set(st.ino, dst);
  } else {
    warn(`--userns=private: ${src} is a device, fifo or socket; the copy for the range leaves it out`);
    return;
  }
  lchownSync(dst, st.uid + shift.uid, st.gid + shift.gid);
  // chown clears setuid and setgid bits: put the mode back after it
  if (!st.isSymbolicLink()) chmodSync(dst, st.mode & 0o7777);
  if (st.isSymbolicLink()) lutimesSync(dst, st.atime, st.mtime);
  else utimesSync(dst, st.atime, st.mtime);
}
