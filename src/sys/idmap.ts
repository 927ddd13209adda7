// Idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP): a tree's files seen with their owners
// shifted through a user namespace's maps, without touching the files.
import { closeSync } from "node:fs";
import { checkErrno } from "../errors.ts";
import { extraShim as shim } from "./shim.ts";

const cstr = (s: string) => Buffer.from(`${s}\0`);

/** Mounts an idmapped copy of the tree at path on target, in cbox's own mount namespace. */
export function mountIdmapped(path: string, usernsFd: number, target: string): void {
  checkErrno("mount_setattr(MOUNT_ATTR_IDMAP)", shim().cbox_idmapped_mount(cstr(path), usernsFd, cstr(target)));
}

/** Makes an idmapped copy of the tree at path and drops it at once: 0, or -errno of the step that failed. */
export function tryIdmappedCopy(path: string, usernsFd: number): number {
  const fd = shim().cbox_idmapped_clone(cstr(path), usernsFd);
  if (fd >= 0) closeSync(fd);
  return Math.min(fd, 0);
}

const MNT_DETACH = 2;

/** Detaches whatever is mounted on target; false when nothing was. */
export function detachMount(target: string): boolean {
  const r = shim().cbox_umount(cstr(target), MNT_DETACH);
  if (r === -22 /* EINVAL: not a mount point */ || r === -2 /* ENOENT */) return false;
  checkErrno(`umount ${target}`, r);
  return true;
}
