// What is mounted into a container from outside its image: -v, --tmpfs and --mount, as docker reads them.
import { realpathSync, statSync } from "node:fs";
import { isAbsolute, normalize } from "node:path";
import { CboxError } from "../errors.ts";
import { MountFlag, type TmpfsMount } from "../linux/mounts.ts";
import { anonymousVolume } from "./anonymous-volumes.ts";
import type { Volume } from "./spec.ts";
import { isVolumeName, VOLUME_NAME_RULE } from "./volume-name.ts";

/**
 * -v HOST:CONTAINER[:ro|rw] (the host path must exist, as podman asks), -v VOLUME:CONTAINER[:ro|rw]
 * (a named volume, made on first use) or -v CONTAINER (an anonymous volume), as docker reads them.
 */
export function parseVolume(value: string): Volume {
  const parts = value.split(":");
  const where = `-v ${value}`;
  if (parts.length > 3) throw new CboxError(`${where}: expected [HOST-PATH|VOLUME:]CONTAINER-PATH[:ro]`);
  if (parts.length === 1) return anonymousVolume(checkTarget(value, where), false);
  const [source = "", target = "", options] = parts;
  if (options !== undefined && options !== "ro" && options !== "rw") throw new CboxError(`${where}: unknown option ${JSON.stringify(options)} (ro or rw)`);
  const readonly = options === "ro";
  if (isAbsolute(source)) return bindVolume(source, target, readonly, where);
  if (!isVolumeName(source)) throw new CboxError(`${where}: ${JSON.stringify(source)} is neither an absolute host path nor a volume name (${VOLUME_NAME_RULE})`);
  return namedVolume(source, target, readonly, where);
}

function namedVolume(name: string, target: string, readonly: boolean, where: string): Volume {
  return { source: "", target: checkTarget(target, where), readonly, isFile: false, name };
}

function bindVolume(source: string, target: string, readonly: boolean, where: string): Volume {
  if (!isAbsolute(source)) throw new CboxError(`${where}: type=bind needs an absolute host path as source (a volume's name: type=volume)`);
  const real = checkTarget(target, where);
  let path: string;
  try {
    path = realpathSync(source);
  } catch {
    throw new CboxError(`${where}: ${source} does not exist`);
  }
  return { source: path, target: real, readonly, isFile: !statSync(path).isDirectory() };
}

function checkTarget(target: string, where: string): string {
  if (!isAbsolute(target)) throw new CboxError(`${where}: the container path must be absolute`);
  if (normalize(target) === "/") throw new CboxError(`${where}: cannot mount over the container's /`);
  return normalize(target).replace(/\/$/, "");
}

const { nosuid, nodev, noexec, rdonly } = MountFlag;
/** docker's --tmpfs default. */
const TMPFS_DEFAULT_FLAGS = nosuid | nodev | noexec;

const TMPFS_FLAG_OPTIONS: Record<string, [set: number, clear: number]> = {
  ro: [rdonly, 0],
  rw: [0, rdonly],
  exec: [0, noexec],
  noexec: [noexec, 0],
  suid: [0, nosuid],
  nosuid: [nosuid, 0],
  dev: [0, nodev],
  nodev: [nodev, 0],
};
const TMPFS_DATA_OPTIONS: Record<string, RegExp> = {
  size: /^\d+[kmg%]?$/i,
  mode: /^[0-7]{3,4}$/,
  uid: /^\d+$/,
  gid: /^\d+$/,
  nr_inodes: /^\d+[kmg]?$/i,
};

/** --tmpfs PATH[:OPTION,...]: options as mount(8) and docker take them (size=64m, mode=1777, ro, exec, ...). */
export function parseTmpfs(value: string): TmpfsMount {
  const colon = value.indexOf(":");
  const target = colon < 0 ? value : value.slice(0, colon);
  const options = colon < 0 ? [] : value.slice(colon + 1).split(",").filter(Boolean);
  return tmpfsSpec(target, options, `--tmpfs ${value}`);
}

function tmpfsSpec(target: string, options: string[], where: string): TmpfsMount {
  let flags = TMPFS_DEFAULT_FLAGS;
  const data: string[] = [];
  for (const option of options) {
    const [key = "", arg] = option.split("=", 2) as [string, string?];
    const flag = TMPFS_FLAG_OPTIONS[option];
    if (flag) flags = (flags | flag[0]) & ~flag[1];
    else if (arg !== undefined && TMPFS_DATA_OPTIONS[key]?.test(arg)) data.push(`${key}=${arg}`);
    else throw new CboxError(`${where}: unknown or malformed option ${JSON.stringify(option)} (size=, mode=, uid=, gid=, nr_inodes=, ro, exec, suid, dev)`);
  }
  return { target: checkTarget(target, where), flags, data: data.join(",") };
}

export type MountSpec = { kind: "bind" | "volume"; volume: Volume } | { kind: "tmpfs"; tmpfs: TmpfsMount };

/**
 * --mount type=bind,source=/a,target=/b[,readonly], type=volume[,source=NAME],target=/b[,readonly]
 * (no source: an anonymous volume) or type=tmpfs,target=/t[,tmpfs-size=64m][,tmpfs-mode=1777].
 */
export function parseMount(value: string): MountSpec {
  const where = `--mount ${value}`;
  const fields = new Map<string, string | undefined>();
  for (const field of value.split(",")) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const canonical = MOUNT_KEY_ALIASES[key] ?? key;
    if (!MOUNT_KEYS.includes(canonical)) throw new CboxError(`${where}: unknown field ${JSON.stringify(key)}`);
    if (fields.has(canonical)) throw new CboxError(`${where}: ${canonical} is given twice`);
    fields.set(canonical, eq < 0 ? undefined : field.slice(eq + 1));
  }
  const type = fields.get("type");
  const target = fields.get("target");
  if (!target) throw new CboxError(`${where}: target= is required`);
  const readonly = readBool(fields, "readonly", where);
  const source = fields.get("source");
  if (type === "bind" || type === "volume") {
    if (fields.has("tmpfs-size") || fields.has("tmpfs-mode")) throw new CboxError(`${where}: tmpfs-size and tmpfs-mode are for type=tmpfs`);
  }
  if (type === "bind") {
    if (!source) throw new CboxError(`${where}: source= is required for type=bind`);
    return { kind: "bind", volume: bindVolume(source, target, readonly, where) };
  }
  if (type === "volume") {
    if (!source) return { kind: "volume", volume: anonymousVolume(checkTarget(target, where), readonly) };
    if (!isVolumeName(source)) throw new CboxError(`${where}: ${JSON.stringify(source)} is not a volume name (${VOLUME_NAME_RULE}); a host path is type=bind`);
    return { kind: "volume", volume: namedVolume(source, target, readonly, where) };
  }
  if (type === "tmpfs") {
    if (fields.has("source")) throw new CboxError(`${where}: type=tmpfs takes no source`);
    const options = [
      ...(readonly ? ["ro"] : []),
      ...(fields.get("tmpfs-size") !== undefined ? [`size=${fields.get("tmpfs-size")}`] : []),
      ...(fields.get("tmpfs-mode") !== undefined ? [`mode=${fields.get("tmpfs-mode")}`] : []),
    ];
    return { kind: "tmpfs", tmpfs: tmpfsSpec(target, options, where) };
  }
  throw new CboxError(`${where}: type= must be bind, volume or tmpfs`);
}

const MOUNT_KEYS = ["type", "source", "target", "readonly", "tmpfs-size", "tmpfs-mode"];
const MOUNT_KEY_ALIASES: Record<string, string> = { src: "source", destination: "target", dst: "target", ro: "readonly" };

function readBool(fields: Map<string, string | undefined>, key: string, where: string): boolean {
  if (!fields.has(key)) return false;
  const value = fields.get(key);
  if (value === undefined || value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new CboxError(`${where}: ${key}=${value}: expected true or false`);
}
