// A container's volumes from the store: each gets its folder's path when the container is
// specified, is made on first use, and is filled from the image when empty (docker's rule).
import type { Paths } from "../paths.ts";
import type { ContainerSpec, Volume } from "./spec.ts";
import { isEmptyFolder, seedVolume } from "./volume-seed.ts";
import { newVolumeName } from "./volume-name.ts";
import { ANONYMOUS_LABEL, createVolume, volumeData, volumeDir, volumeUsers, withVolumesLock } from "./volume-store.ts";

/** Names the anonymous volumes and points every store volume at its folder. */
export function placeVolumes(paths: Paths, volumes: Volume[]): void {
  for (const v of volumes) {
    if (!v.name && !v.anonymous) continue; // a bound host path
    v.name ??= newVolumeName();
    v.source = volumeData(paths, v.name);
  }
}

/**
 * Makes the container's volumes that do not exist yet, and fills each empty one with what the
 * image has at its path; made (filled as they are made) names the named ones it made, so that
 * a start that fails can take them away again. Call once the container's record is written:
 * `volume rm` then sees it uses them.
 */
export function makeVolumes(paths: Paths, spec: ContainerSpec, made: string[], shift?: { uid: number; gid: number }): void {
  const volumes = spec.volumes.filter((v) => v.name);
  if (volumes.length === 0) return;
  withVolumesLock(
    paths,
    () => {
      for (const v of volumes) {
        if (createVolume(paths, v.name!, v.anonymous ? { [ANONYMOUS_LABEL]: "" } : {}) && !v.anonymous) made.push(v.name!);
        if (isEmptyFolder(v.source)) seedVolume(v.source, v.target, spec.layers ?? [spec.rootfs], shift);
      }
    },
    true,
  );
}

/** Takes away the named volumes a failed start made, unless another container uses them by now. */
export function unmakeVolumes(paths: Paths, names: string[], containerId: string, removeTree: (path: string) => void): void {
  if (names.length === 0) return;
  withVolumesLock(paths, () => {
    const users = volumeUsers(paths);
    for (const name of names) if (!users.get(name)?.some((u) => u.id !== containerId)) removeTree(volumeDir(paths, name));
  });
}
