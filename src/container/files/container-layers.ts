// A container's layers, for export and diff: its upper folder over its image's, with owners as
// the container sees them, and its lock held while it is stopped (so it cannot start, nor be
// removed, while its files are read).
import type { Stats } from "node:fs";
import { CboxError } from "../../errors.ts";
import { containerUserMaps, insideId, inUserNamespace } from "../../linux/userns.ts";
import type { Paths } from "../../paths.ts";
import { holdFolderLock } from "../lock.ts";
import { resolveContainer } from "../remove.ts";
import { liveState } from "../status.ts";
import { containerDirs, readSpec, readState } from "../store-read.ts";

export interface ContainerLayers {
  upper: string;
  /** The image's folders, topmost first. */
  lowers: string[];
  /** The xattr that makes a folder opaque to the container's overlay. */
  opaqueXattr: string;
  /** A file's owner as the container sees it, from the layer it is in (0: the upper one). */
  owner(layer: number, st: Stats): { uid: number; gid: number };
  /** Lets the container start again (a stopped one is held meanwhile). */
  release(): void;
}

export function openContainerLayers(paths: Paths, ref: string): ContainerLayers {
  const dirs = containerDirs(paths, resolveContainer(paths, ref));
  const release = holdFolderLock(dirs.dir);
  try {
    const state = readState(dirs.dir);
    if (!state) throw new CboxError(`no such container: ${ref}`);
    const spec = readSpec(dirs.dir, state);
    if (!spec) throw new CboxError(`container ${ref} was made by an older cbox that did not keep its settings`);
    if (liveState(state) !== "exited") release(); // running: read as it goes, as docker does
    const rootless = process.getuid!() !== 0;
    const maps = containerUserMaps(spec.userns);
    // An ordinary user's layers are all in their namespace's ids; --userns=private's image is
    // idmapped when mounted, so only what the container wrote (its upper layer) is shifted.
    const shifted = (layer: number) => maps !== undefined && (rootless || layer === 0);
    return {
      upper: dirs.upper,
      lowers: spec.layers ?? [spec.rootfs],
      // An ordinary user's cbox may read them as root of a user namespace with its maps (rerunAsNamespaceRoot).
      opaqueXattr: maps || inUserNamespace() ? "user.overlay.opaque" : "trusted.overlay.opaque",
      owner: (layer, st) => (shifted(layer) ? { uid: insideId(maps!.uid, st.uid), gid: insideId(maps!.gid, st.gid) } : { uid: st.uid, gid: st.gid }),
      release,
    };
  } catch (err) {
    release();
    throw err;
  }
}
