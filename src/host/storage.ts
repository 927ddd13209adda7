// The storage root (images and containers) and the runtime folder: where they are, whether they
// exist, on which filesystem, and how much room is left. Read only: nothing is made here.
import { realpathSync, statfsSync } from "node:fs";
import { dirname, join } from "node:path";
import { unescapeMountPath } from "../linux/cgroups/detect.ts";
import { formatBytes } from "../image/progress.ts";
import { missing, ok, warn, type Caller, type Check } from "./check.ts";
import { W_OK, X_OK, type HostFiles } from "./files.ts";

export interface MountEntry {
  mountPoint: string;
  fstype: string;
  source: string;
}

export interface StorageFacts {
  root: string;
  /** "folder", "other" (a file where the root should be), or "none". */
  kind: "folder" | "other" | "none";
  /** The caller may make and remove entries in it (when it exists), or make it (when it does not). */
  writable: boolean;
  /** The root, or its nearest existing ancestor, with symlinks resolved. */
  nearest: string;
  mount?: MountEntry;
  freeBytes?: number;
  runtime: RuntimeFacts;
}

export interface RuntimeFacts {
  path: string;
  exists: boolean;
  /** Owned by someone else than the caller (refused for /tmp/cbox-UID). */
  foreign: boolean;
  /** XDG_RUNTIME_DIR, for a user (systemd-run --user needs it too). */
  xdgRuntimeDir?: string;
}

/** Below this, a pull or a container's writes soon fail. */
const LOW_SPACE = 1024 ** 3;

/**
 * The mount holding path (absolute, symlinks resolved), from /proc/self/mountinfo text: the
 * deepest mount point at or above it; of mounts on one point, the last (it hides the others).
 */
export function mountOf(mountinfo: string, path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 0 || fields.length < dash + 3) continue;
    const mountPoint = unescapeMountPath(fields[4]!);
    const inside = mountPoint === "/" || path === mountPoint || path.startsWith(`${mountPoint}/`);
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) {
      best = { mountPoint, fstype: fields[dash + 1]!, source: unescapeMountPath(fields[dash + 2]!) };
    }
  }
  return best;
}

/** Mount points strictly below path. */
export function mountsBelow(mountinfo: string, path: string): string[] {
  const base = path === "/" ? "/" : `${path}/`;
  return mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => !!p)
    .map(unescapeMountPath)
    .filter((p) => p !== path && p.startsWith(base));
}

/**
 * The runtime folder (DESIGN.md, Storage): /run/cbox for root, $XDG_RUNTIME_DIR/cbox for a
 * user, /tmp/cbox-UID when that variable is unset.
 */
export function runtimeDir(env: Record<string, string | undefined>, caller: Caller): string {
  if (caller.root) return "/run/cbox";
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "cbox") : `/tmp/cbox-${caller.uid}`;
}

export function readStorage(files: HostFiles, root: string, env: Record<string, string | undefined>, caller: Caller): StorageFacts {
  const st = files.stat(root);
  const kind = !st ? "none" : st.isDirectory() ? "folder" : "other";
  let nearest = root;
  while (!files.stat(nearest) && dirname(nearest) !== nearest) nearest = dirname(nearest);
  nearest = resolved(files, nearest);
  const rt = runtimeDir(env, caller);
  const rtStat = files.stat(rt);
  return {
    root,
    kind,
    writable: files.can(kind === "none" ? nearest : root, W_OK | X_OK),
    nearest,
    mount: mountAt(files, nearest),
    freeBytes: freeBytes(`${files.prefix}${nearest}`),
    runtime: {
      path: rt,
      exists: !!rtStat,
      foreign: !!rtStat && rtStat.uid !== caller.uid,
      ...(caller.root ? {} : { xdgRuntimeDir: env.XDG_RUNTIME_DIR ?? "" }),
    },
  };
}

/** The mount holding an existing path, read from the host's mount table. */
export function mountAt(files: HostFiles, path: string): MountEntry | undefined {
  return mountOf(files.read("/proc/self/mountinfo") ?? "", resolved(files, path));
}

function resolved(files: HostFiles, path: string): string {
  try {
    return realpathSync(`${files.prefix}${path}`).slice(files.prefix.length) || "/";
  } catch {
    return path;
  }
}

function freeBytes(path: string): number | undefined {
  try {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** "ext4 (/dev/vda on /)". */
export function filesystemText(mount: MountEntry | undefined): string {
  return mount ? `${mount.fstype} (${mount.source} on ${mount.mountPoint})` : "an unknown filesystem";
}

export function storageCheck(s: StorageFacts): Check {
  const name = "storage root";
  const free = s.freeBytes === undefined ? "" : `, ${formatBytes(s.freeBytes)} free`;
  const on = `on ${filesystemText(s.mount)}${free}`;
  if (s.kind === "other") return missing(name, `${s.root} is not a folder`, "give --root (or CBOX_ROOT) a folder");
  if (!s.writable) {
    const why = s.kind === "none" ? `cannot be made: ${s.nearest} is not writable by you` : "not writable by you";
    return missing(name, `${s.root} ${on}: ${why}`, "give --root (or CBOX_ROOT) a folder you own");
  }
  const where = s.kind === "none" ? `${s.root} (not made yet: the first pull or run makes it) ${on}` : `${s.root} ${on}`;
  if (s.freeBytes !== undefined && s.freeBytes < LOW_SPACE) return warn(name, `${where}: little room for images and containers`, "free space there, or give --root a folder on a larger filesystem");
  return ok(name, where);
}

/** delegation: cgroup v2, where systemd-run --user can give a user a delegated cgroup. */
export function runtimeCheck(r: RuntimeFacts, caller: Caller, delegation: boolean): Check {
  const name = "runtime folder";
  const state = r.exists ? "exists" : "absent";
  if (r.foreign) return missing(name, `${r.path} belongs to another user`, `remove ${r.path}, or set XDG_RUNTIME_DIR to a folder of yours`);
  if (!caller.root && !r.xdgRuntimeDir && delegation) {
    return warn(name, `${r.path} (${state}): XDG_RUNTIME_DIR is not set, and systemd-run --user (cgroup delegation) needs it`, `log in through a session (ssh, login), or export XDG_RUNTIME_DIR=/run/user/${caller.uid}`);
  }
  return ok(name, `${r.path} (${state})${!caller.root && !r.xdgRuntimeDir ? "; XDG_RUNTIME_DIR is not set" : ""}`);
}
