// What `cbox volume create|ls|inspect|rm|prune` do, docker's way, on the volume store.
import { table } from "../cli/output.ts";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { recoverStaleStore } from "./remove.ts";
import { treeBytes } from "./disk-usage.ts";
import { pruneReport } from "./stats-format.ts";
import { isVolumeName, newVolumeName, VOLUME_NAME_RULE } from "./volume-name.ts";
import { createVolume, describeUser, listVolumes, noSuchVolume, readVolume, removeUnfinished, volumeDir, volumeUsers, withVolumesLock, type VolumeRecord } from "./volume-store.ts";

/** volume create [NAME]: made with its labels, or there already with the same ones; its name. */
export function createNamedVolume(paths: Paths, name: string | undefined, labels: Record<string, string>): string {
  const volume = name ?? newVolumeName();
  if (!isVolumeName(volume)) throw new CboxError(`volume name ${JSON.stringify(volume)} is not valid: ${VOLUME_NAME_RULE}`);
  withVolumesLock(
    paths,
    () => {
      if (createVolume(paths, volume, labels) || Object.keys(labels).length === 0) return;
      if (!sameLabels(readVolume(paths, volume)!.labels, labels)) throw new CboxError(`volume ${volume} exists already, with other labels; remove it first (cbox volume rm ${volume}) or give its labels`);
    },
    true,
  );
  return volume;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  return Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
}

/** volume ls: docker's columns (DRIVER, VOLUME NAME), names only (-q), or a JSON object a line. */
export function formatVolumes(volumes: VolumeRecord[], format: string | undefined, quiet: boolean): string {
  if (format !== undefined && format !== "table" && format !== "json") throw new CboxError(`--format ${JSON.stringify(format)}: use table or json`);
  if (quiet) return volumes.map((v) => `${v.name}\n`).join("");
  if (format === "json") {
    const labels = (v: VolumeRecord) => Object.entries(v.labels).map(([k, value]) => `${k}=${value}`).join(",");
    return volumes.map((v) => `${JSON.stringify({ Driver: "local", Labels: labels(v), Mountpoint: v.mountpoint, Name: v.name, Scope: "local" })}\n`).join("");
  }
  return table(["DRIVER", "VOLUME NAME"], volumes.map((v) => ["local", v.name]));
}

/** volume inspect: docker's object for each volume asked for. */
export function inspectVolumes(paths: Paths, names: string[]): Record<string, unknown>[] {
  if (names.length === 0) throw new CboxError("cbox volume inspect needs at least one volume");
  return names.map((name) => {
    const v = readVolume(paths, name);
    if (!v) throw noSuchVolume(name);
    return { CreatedAt: v.createdAt, Driver: "local", Labels: v.labels, Mountpoint: v.mountpoint, Name: v.name, Options: {}, Scope: "local" };
  });
}

/**
 * volume rm: every volume is checked before any is removed: each must exist (-f: a missing one
 * is passed over) and no container, running or stopped, may use it (-f too, as docker).
 */
export function removeVolumes(paths: Paths, names: string[], force: boolean): void {
  if (names.length === 0) throw new CboxError("cbox volume rm needs at least one volume");
  const removeTree = recoverStaleStore(paths);
  withVolumesLock(paths, () => {
    const found = [...new Set(names)].filter((name) => {
      if (readVolume(paths, name)) return true;
      if (force) return false;
      throw noSuchVolume(name);
    });
    const users = volumeUsers(paths);
    for (const name of found) {
      const using = users.get(name) ?? [];
      if (using.length) throw new CboxError(`volume ${name} is in use by container${using.length > 1 ? "s" : ""} ${using.map(describeUser).join(", ")}; remove ${using.length > 1 ? "them" : "it"} first (cbox rm)`);
    }
    for (const name of found) removeTree(volumeDir(paths, name));
  });
}

/** volume prune: the volumes no container uses, anonymous ones only unless all; docker's report. */
export function pruneVolumes(paths: Paths, all: boolean): string {
  const removeTree = recoverStaleStore(paths);
  return withVolumesLock(paths, () => {
    removeUnfinished(paths);
    const users = volumeUsers(paths);
    const deleted: string[] = [];
    let bytes = 0;
    for (const v of listVolumes(paths)) {
      if (users.has(v.name) || (!all && !v.anonymous)) continue;
      bytes += treeBytes(v.mountpoint);
      removeTree(volumeDir(paths, v.name));
      deleted.push(v.name);
    }
    return pruneReport([["Deleted Volumes", deleted]], bytes);
  });
}
