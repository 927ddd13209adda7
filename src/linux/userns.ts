// User namespace maps: who the container's ids are on the host.
import { readFileSync, writeFileSync } from "node:fs";
import { CboxError } from "../errors.ts";

/** One line of /proc/PID/uid_map or gid_map: `inside outside count`. */
export interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

export interface UserMaps {
  uid: IdRange[];
  gid: IdRange[];
  /** newuidmap/newgidmap write the maps (subordinate ranges); else we write them ourselves. */
  helpers?: { newuidmap: string; newgidmap: string };
  /** Written by root, who may map any ids and leave setgroups(2) allowed (--userns=private). */
  privileged?: boolean;
  /** An ordinary user's maps hold only their own id: why no subordinate range could be added. */
  ownIdOnly?: OwnIdOnlyReason;
}

export type OwnIdOnlyReason = { missing: "helpers" } | { missing: "subuid" | "subgid"; user: string };

/** Ids a --userns=private container has: 0..65535 inside. */
export const PRIVATE_RANGE_SIZE = 65536;
/** Where they start on the host without a `cbox` entry in /etc/subuid: past the ids of people and of Debian's per-user ranges. */
export const DEFAULT_PRIVATE_START = 1073741824;

/**
 * Where --userns=private's ids start on the host (subuid or subgid text): the first range of
 * the `cbox` entry, else `fallback` (CBOX_USERNS_START), else DEFAULT_PRIVATE_START.
 * A message instead when the range is too small or the number is not one.
 */
export function privateRangeStart(text: string, fallback: string | undefined, file: string): number | string {
  const entry = subordinateRanges(text, "cbox", -1)[0];
  if (entry) {
    if (entry.count >= PRIVATE_RANGE_SIZE) return entry.start;
    return `${file}: the cbox range holds ${entry.count} ids; --userns=private needs ${PRIVATE_RANGE_SIZE}`;
  }
  if (fallback === undefined) return DEFAULT_PRIVATE_START;
  const start = /^\d{1,10}$/.test(fallback) ? Number(fallback) : NaN;
  if (start >= 1 && start + PRIVATE_RANGE_SIZE <= 0xffffffff) return start;
  return `CBOX_USERNS_START=${fallback}: expected a number from 1 that leaves room for ${PRIVATE_RANGE_SIZE} ids`;
}

/** Maps of --userns=private: 0..65535 inside onto the host ranges, written by root. */
export function privateMaps(uidStart: number, gidStart: number): UserMaps {
  const range = (start: number): IdRange[] => [{ inside: 0, outside: start, count: PRIVATE_RANGE_SIZE }];
  return { uid: range(uidStart), gid: range(gidStart), privileged: true };
}

/** The first id a map gives to id 0 inside (the host owner of the container's root files). */
export function hostIdOfRoot(ranges: IdRange[]): number {
  return ranges.find((r) => r.inside === 0)!.outside;
}

/** The id a host id is inside a user namespace with these maps; 65534 (nobody) when they map none, as the kernel shows it. */
export function insideId(ranges: IdRange[], hostId: number): number {
  const r = ranges.find((r) => hostId >= r.outside && hostId < r.outside + r.count);
  return r ? r.inside + hostId - r.outside : 65534;
}

/** Subordinate ranges of a user from /etc/subuid or /etc/subgid text (`name-or-id:start:count`). */
export function subordinateRanges(text: string, user: string, id: number): { start: number; count: number }[] {
  return text
    .split("\n")
    .map((line) => line.trim().split(":"))
    .filter((f) => f.length === 3 && (f[0] === user || f[0] === String(id)))
    .map(([, start, count]) => ({ start: Number(start), count: Number(count) }))
    .filter((r) => Number.isInteger(r.start) && Number.isInteger(r.count) && r.count > 0);
}

/**
 * Maps for an ordinary user: their own id becomes 0 inside; the first subordinate range, when
 * there is one and the setuid helpers exist, follows as 1..count so chown to other ids works.
 */
export function rootlessMaps(
  uid: number,
  gid: number,
  subuid: { start: number; count: number }[],
  subgid: { start: number; count: number }[],
  helpers?: { newuidmap: string; newgidmap: string },
  user = String(uid),
): UserMaps {
  const own = (id: number): IdRange[] => [{ inside: 0, outside: id, count: 1 }];
  const ownIdOnly: OwnIdOnlyReason | undefined = !helpers
    ? { missing: "helpers" }
    : subuid.length === 0
      ? { missing: "subuid", user }
      : subgid.length === 0
        ? { missing: "subgid", user }
        : undefined;
  if (ownIdOnly) return { uid: own(uid), gid: own(gid), ownIdOnly };
  const withRange = (id: number, r: { start: number; count: number }): IdRange[] => [
    ...own(id),
    { inside: 1, outside: r.start, count: r.count },
  ];
  return { uid: withRange(uid, subuid[0]!), gid: withRange(gid, subgid[0]!), helpers };
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The login name of uid from passwd text (Bun's os.userInfo() does not look it up). */
export function userName(uid: number, passwd: string): string {
  const entry = passwd.split("\n").find((line) => line.split(":")[2] === String(uid));
  return entry?.split(":")[0] ?? process.env.USER ?? "";
}

/** --userns=private's maps from /etc/subuid, /etc/subgid and CBOX_USERNS_START; a message when they are unusable. */
export function detectPrivateMaps(env: Record<string, string | undefined>): UserMaps | string {
  const uid = privateRangeStart(read("/etc/subuid"), env.CBOX_USERNS_START, "/etc/subuid");
  const gid = privateRangeStart(read("/etc/subgid"), env.CBOX_USERNS_START, "/etc/subgid");
  if (typeof uid === "string") return uid;
  if (typeof gid === "string") return gid;
  return privateMaps(uid, gid);
}

/** --userns=private's maps, or a CboxError that says why they cannot be had. */
export function requirePrivateMaps(env: Record<string, string | undefined>): UserMaps {
  const maps = detectPrivateMaps(env);
  if (typeof maps === "string") throw new CboxError(`--userns=private: ${maps}`);
  return maps;
}

/** The maps of a container's user namespace: an ordinary user's always, root's with --userns=private; none for root's others. */
export function containerUserMaps(userns: string | undefined): UserMaps | undefined {
  if (process.getuid!() !== 0) return detectRootlessMaps();
  return userns === "private" ? requirePrivateMaps(process.env) : undefined;
}

/** Reads /etc/subuid, /etc/subgid and finds the setuid helpers for the calling user. */
export function detectRootlessMaps(): UserMaps {
  const uid = process.getuid!();
  const gid = process.getgid!();
  const name = userName(uid, read("/etc/passwd"));
  const newuidmap = Bun.which("newuidmap");
  const newgidmap = Bun.which("newgidmap");
  const helpers = newuidmap && newgidmap ? { newuidmap, newgidmap } : undefined;
  return rootlessMaps(
    uid,
    gid,
    subordinateRanges(read("/etc/subuid"), name, uid),
    subordinateRanges(read("/etc/subgid"), name, gid),
    helpers,
    name || String(uid),
  );
}

/** The maps of a running process (/proc/PID/uid_map, gid_map), as this process's namespace sees them. */
export function processMaps(pid: number): { uid: IdRange[]; gid: IdRange[] } {
  return { uid: parseMap(read(`/proc/${pid}/uid_map`)), gid: parseMap(read(`/proc/${pid}/gid_map`)) };
}

export function parseMap(text: string): IdRange[] {
  return text
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isInteger))
    .map(([inside, outside, count]) => ({ inside: inside!, outside: outside!, count: count! }));
}

export function formatMap(ranges: IdRange[]): string {
  return ranges.map((r) => `${r.inside} ${r.outside} ${r.count}`).join("\n") + "\n";
}

/** Whether setgroups(2) may be called inside: not when we had to write "deny" to get a gid map. */
export function setgroupsAllowed(maps: UserMaps | undefined): boolean {
  return !maps || !!maps.helpers || !!maps.privileged;
}

/** Whether this process runs in a user namespace other than the host's (its uid map is not the whole range). */
export function inUserNamespace(): boolean {
  return !/^\s*0\s+0\s+4294967295\s*$/.test(read("/proc/self/uid_map") || "0 0 4294967295");
}

/** Whether process pid's user namespace lets setgroups(2) be called ("deny" for most rootless ones). */
export function setgroupsAllowedIn(pid: number): boolean {
  return read(`/proc/${pid}/setgroups`).trim() !== "deny";
}

/** Writes the maps of a child that waits in a new user namespace. Throws with the step named. */
export function writeMaps(pid: number, maps: UserMaps): void {
  if (maps.helpers) {
    runHelper(maps.helpers.newuidmap, pid, maps.uid);
    runHelper(maps.helpers.newgidmap, pid, maps.gid);
    return;
  }
  if (!maps.privileged) writeProcFile(pid, "setgroups", "deny");
  writeProcFile(pid, "uid_map", formatMap(maps.uid));
  writeProcFile(pid, "gid_map", formatMap(maps.gid));
}

function writeProcFile(pid: number, file: string, text: string): void {
  try {
    writeFileSync(`/proc/${pid}/${file}`, text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(`write /proc/${pid}/${file}: ${code}`);
  }
}

function runHelper(helper: string, pid: number, ranges: IdRange[]): void {
  const args = ranges.flatMap((r) => [r.inside, r.outside, r.count].map(String));
  const res = Bun.spawnSync([helper, String(pid), ...args], { stderr: "pipe", stdout: "ignore" });
  if (res.exitCode !== 0) {
    const why = res.stderr.toString().trim().split("\n").pop() || `exit code ${res.exitCode}`;
    throw new Error(`${helper}: ${why}`);
  }
}
