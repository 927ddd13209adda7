// The read-only layers under a container's overlay. In a --userns=private container, root is
// an unprivileged id on the host, so the image's files must appear owned by the container's
// range: through an idmapped mount of the image (nothing copied), or where the filesystem
// cannot idmap, through one copy with shifted owners per range, shared by its containers.
//
// The idmapped mount is made by cbox (only root of the host's user namespace may idmap a host
// filesystem) on `lower` in the container's folder, just before the clone copies it into the
// container's mount namespace, and detached from the host once the container has its overlay:
// overlayfs refuses detached mounts owned by another user namespace as layers.
import { closeSync, mkdirSync, openSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CboxError, ErrnoError } from "../errors.ts";
import { shiftedRoot } from "../image/shift.ts";
import { CloneFlag } from "../linux/namespaces.ts";
import { hostIdOfRoot, writeMaps, type UserMaps } from "../linux/userns.ts";
import { detachMount, mountIdmapped } from "../sys/idmap.ts";
import { spawnHeld } from "../sys/process.ts";
import type { ContainerSpec } from "./spec.ts";

export interface Lowers {
  /** The overlay's lower folders, topmost first, relative to base when it is set. */
  lowerdirs: string[];
  /** The folder the first process enters before mounting the overlay: deep images' lowerdir stays short. */
  base?: string;
  /** Mounts on the host to detach once the container is started (the idmapped layers). */
  mounted: string[];
}

// mount_setattr's answers when the kernel or the filesystem cannot idmap.
const IDMAP_UNSUPPORTED = new Set([22 /* EINVAL */, 38 /* ENOSYS */, 95 /* EOPNOTSUPP */]);

/** The image's layers as the container's overlay takes them. */
export function imageLowers(
  spec: ContainerSpec,
  maps: UserMaps | undefined,
  containerDir: string,
  env: Record<string, string | undefined>,
): Lowers {
  const layers = spec.layers ?? [spec.rootfs];
  if (!maps?.privileged) return { ...relativeTo(layers), mounted: [] };
  if (env.CBOX_IDMAP !== "0") {
    const lower = join(containerDir, "lower");
    // Entered by the container's root, a host id of the range. Left from an earlier start (or cbox cp), empty.
    mkdirSync(lower, { mode: 0o711, recursive: true });
    const mounted: string[] = [];
    try {
      layers.forEach((layer, i) => {
        const target = join(lower, String(i));
        mkdirSync(target, { mode: 0o700, recursive: true });
        mountIdmappedWith(layer, maps, target);
        mounted.push(target);
      });
      return { lowerdirs: mounted.map((_, i) => String(i)), base: lower, mounted };
    } catch (err) {
      for (const target of mounted) detachMount(target);
      rmSync(lower, { recursive: true }); // nothing is mounted under it now
      if (!(err instanceof ErrnoError) || !IDMAP_UNSUPPORTED.has(err.errno)) throw new CboxError(`--userns=private: cannot idmap the image: ${(err as Error).message}`);
    }
  }
  if (layers.length > 1) {
    throw new CboxError(`--userns=private: ${spec.image.ref} has ${layers.length} layers and this host cannot idmap them (its filesystem cannot, or CBOX_IDMAP=0); run it without --userns=private`);
  }
  if (!spec.image.id) {
    throw new CboxError(`--userns=private: ${spec.rootfs} cannot be idmapped here (its filesystem cannot, or CBOX_IDMAP=0); import it as an image (cbox import) so cbox can keep a copy for the range`);
  }
  return { lowerdirs: [shiftedRoot(spec.rootfs, { uid: hostIdOfRoot(maps.uid), gid: hostIdOfRoot(maps.gid) })], mounted: [] };
}

/** Layers that share a parent folder (a registry image's short links) are named from it. */
function relativeTo(layers: string[]): { lowerdirs: string[]; base?: string } {
  if (layers.length < 2) return { lowerdirs: layers };
  const base = dirname(layers[0]!);
  if (!layers.every((l) => dirname(l) === base)) return { lowerdirs: layers };
  return { lowerdirs: layers.map((l) => basename(l)), base };
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
