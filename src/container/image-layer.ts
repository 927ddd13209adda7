// The read-only layer under a container's overlay. In a --userns=private container, root is
// an unprivileged id on the host, so the image's files must appear owned by the container's
// range: through an idmapped mount of the image (nothing copied), or where the filesystem
// cannot idmap, through one copy with shifted owners per range, shared by its containers.
//
// The idmapped mount is made by cbox (only root of the host's user namespace may idmap a host
// filesystem) on `lower` in the container's folder, just before the clone copies it into the
// container's mount namespace, and detached from the host once the container has its overlay:
// overlayfs refuses detached mounts owned by another user namespace as layers.
import { closeSync, mkdirSync, openSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { CboxError, ErrnoError } from "../errors.ts";
import { shiftedRoot } from "../image/shift.ts";
import { CloneFlag } from "../linux/namespaces.ts";
import { hostIdOfRoot, writeMaps, type UserMaps } from "../linux/userns.ts";
import { mountIdmapped } from "../sys/idmap.ts";
import { spawnHeld } from "../sys/process.ts";
import type { ContainerSpec } from "./spec.ts";

export interface Layer {
  /** The overlay's lowerdir as the container's first process sees it. */
  lowerdir: string;
  /** A mount on the host to detach once the container is started (the idmapped image). */
  mounted?: string;
}

// mount_setattr's answers when the kernel or the filesystem cannot idmap.
const IDMAP_UNSUPPORTED = new Set([22 /* EINVAL */, 38 /* ENOSYS */, 95 /* EOPNOTSUPP */]);

export function imageLayer(
  spec: ContainerSpec,
  maps: UserMaps | undefined,
  containerDir: string,
  env: Record<string, string | undefined>,
): Layer {
  if (!maps?.privileged) return { lowerdir: spec.rootfs };
  if (env.CBOX_IDMAP !== "0") {
    const target = join(containerDir, "lower");
    mkdirSync(target, { mode: 0o700 });
    try {
      mountIdmappedWith(spec.rootfs, maps, target);
      return { lowerdir: target, mounted: target };
    } catch (err) {
      rmdirSync(target); // nothing is mounted on it; an empty `lower` would make cbox rm look for a mount
      if (!(err instanceof ErrnoError) || !IDMAP_UNSUPPORTED.has(err.errno)) throw new CboxError(`--userns=private: cannot idmap ${spec.rootfs}: ${(err as Error).message}`);
    }
  }
  if (!spec.image.id) {
    throw new CboxError(`--userns=private: ${spec.rootfs} cannot be idmapped here (its filesystem cannot, or CBOX_IDMAP=0); import it as an image (cbox import) so cbox can keep a copy for the range`);
  }
  return { lowerdir: shiftedRoot(spec.rootfs, { uid: hostIdOfRoot(maps.uid), gid: hostIdOfRoot(maps.gid) }) };
}

/** A user namespace with maps, as an fd; the short-lived child that made it is gone. */
export function userNamespaceWith(maps: UserMaps): number {
  const child = spawnHeld([{ op: "exit", ints: [0] }], CloneFlag.newuser | CloneFlag.vm);
  try {
    writeMaps(child.pid, maps);
    return openSync(`/proc/${child.pid}/ns/user`, "r");
  } finally {
    child.abort();
  }
}

/** Mounts path idmapped through a user namespace with maps. */
function mountIdmappedWith(path: string, maps: UserMaps, target: string): void {
  const usernsFd = userNamespaceWith(maps);
  try {
    mountIdmapped(path, usernsFd, target);
  } finally {
    closeSync(usernsFd);
  }
}
