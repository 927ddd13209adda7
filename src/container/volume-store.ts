// Volumes on disk: volumes/NAME/_data (what containers see) and volumes/NAME/volume.json (when
// it was made, its labels). Named volumes are made by `volume create` or on first use;
// anonymous ones (an image's Volumes, -v /path, --mount type=volume without a source) have a
// 64-hex name and docker's anonymous label. Volumes are made and removed under the lock of
// volumes/ (but for a container's anonymous ones, which rm -v and --rm take with it).
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { withFolderLock } from "./lock.ts";
import { isVolumeName, volumeNameOf } from "./volume-name.ts";
import { containerDirs, listContainerIds, readSpec, readState, safeReaddir } from "./store-read.ts";

/** docker's label on the volumes it makes for a container that named none. */
export const ANONYMOUS_LABEL = "com.docker.volume.anonymous";

export interface VolumeRecord {
  name: string;
  /** RFC 3339, to the second. */
  createdAt: string;
  labels: Record<string, string>;
  /** The folder containers see: volumes/NAME/_data. */
  mountpoint: string;
  anonymous: boolean;
}

export function volumesDir(paths: Paths): string {
  return resolve(paths.root, "volumes");
}

export function volumeDir(paths: Paths, name: string): string {
  return join(volumesDir(paths), name);
}

export function volumeData(paths: Paths, name: string): string {
  return join(volumeDir(paths, name), "_data");
}

/** Runs fn holding the volume store's lock (volumes/ is made first when make is set). */
export function withVolumesLock<T>(paths: Paths, fn: () => T, make = false): T {
  if (make) mkdirSync(volumesDir(paths), { recursive: true, mode: 0o711 });
  return withFolderLock(volumesDir(paths), fn);
}

export function readVolume(paths: Paths, name: string): VolumeRecord | undefined {
  if (!isVolumeName(name)) return undefined;
  const dir = volumeDir(paths, name);
  if (!isFolder(join(dir, "_data"))) return undefined;
  let meta: { createdAt: string; labels: Record<string, string> };
  try {
    const stored = JSON.parse(readFileSync(join(dir, "volume.json"), "utf8"));
    meta = { createdAt: String(stored.createdAt), labels: stored.labels ?? {} };
  } catch {
    // Made by a cbox before volume.json: one of an image's anonymous volumes.
    meta = { createdAt: rfc3339(statSync(dir).mtime), labels: { [ANONYMOUS_LABEL]: "" } };
  }
  return { name, createdAt: meta.createdAt, labels: meta.labels, mountpoint: join(dir, "_data"), anonymous: ANONYMOUS_LABEL in meta.labels };
}

/** Every volume, by name. */
export function listVolumes(paths: Paths): VolumeRecord[] {
  return safeReaddir(volumesDir(paths))
    .sort()
    .map((name) => readVolume(paths, name))
    .filter((v): v is VolumeRecord => v !== undefined);
}

/**
 * Makes the volume unless it exists: whether it made it. Made whole under a temporary name and
 * renamed into place, so a cbox killed meanwhile leaves no half volume. Call holding the lock.
 */
export function createVolume(paths: Paths, name: string, labels: Record<string, string>): boolean {
  if (readVolume(paths, name)) return false;
  mkdirSync(volumesDir(paths), { recursive: true, mode: 0o711 });
  const tmp = join(volumesDir(paths), `.new-${name}`);
  rmSync(tmp, { recursive: true, force: true }); // left by a killed cbox: the lock says none is being made
  mkdirSync(tmp, { mode: 0o711 });
  try {
    mkdirSync(join(tmp, "_data"), { mode: 0o755 });
    writeFileSync(join(tmp, "volume.json"), `${JSON.stringify({ createdAt: rfc3339(new Date()), labels })}\n`, { mode: 0o644 });
    renameSync(tmp, volumeDir(paths, name));
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return true;
}

/** Removes what a killed cbox left half made. Call holding the lock. */
export function removeUnfinished(paths: Paths): void {
  for (const name of safeReaddir(volumesDir(paths))) if (name.startsWith(".new-")) rmSync(join(volumesDir(paths), name), { recursive: true, force: true });
}

export interface VolumeUser {
  id: string;
  name: string;
}

/** The containers (running or not) that mount each volume, by volume name. */
export function volumeUsers(paths: Paths): Map<string, VolumeUser[]> {
  const users = new Map<string, VolumeUser[]>();
  for (const id of listContainerIds(paths)) {
    const dir = containerDirs(paths, id).dir;
    const state = readState(dir);
    if (!state) continue;
    for (const v of state.volumes ?? readSpec(dir, state)?.volumes ?? []) {
      const name = volumeNameOf(v);
      if (name && !users.get(name)?.some((u) => u.id === id)) users.set(name, [...(users.get(name) ?? []), { id, name: state.name }]);
    }
  }
  return users;
}

/** How an error names a container that uses a volume. */
export function describeUser(user: VolumeUser): string {
  return user.name ? `${user.name} (${user.id.slice(0, 12)})` : user.id.slice(0, 12);
}

/** The error for a volume that does not exist (a name that cannot be one, such as a path, included). */
export function noSuchVolume(name: string): CboxError {
  return new CboxError(`no such volume: ${name}`);
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // missing, or under a file
  }
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
