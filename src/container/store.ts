// Containers on disk: one folder each, state written atomically, names reserved atomically.
// A cbox killed with SIGKILL leaves a folder whose owner is gone; recoverStale() finds it.
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CboxError } from "../errors.ts";
import { writeAtomic } from "../files.ts";
import { oomKillsIn, removeCgroups } from "../linux/cgroups/cgroup.ts";
import { cgroupfs } from "../linux/cgroups/fs.ts";
import { processStartTime } from "../linux/proc.ts";
import type { Paths } from "../paths.ts";
import { detachMount } from "../sys/idmap.ts";
import { exitCodeOf } from "../sys/process.ts";
import type { Limits } from "../linux/cgroups/limits.ts";
import { withContainerLock } from "./lock.ts";
import { CONTAINER_ID, containerDirs, listContainerIds, orphanedTemp, readNameHolder, readSpec, readState, safeReaddir } from "./store-read.ts";
import { releaseNetworks, type NetworkAttachment } from "./network/attachment.ts";
import { endUnrecorded, owned } from "./status.ts";
import type { ContainerDirs } from "./plan.ts";
import type { ContainerSpec, Volume } from "./spec.ts";

/** restarting: ended, and waiting its restart policy's back-off before it starts again. */
export type Status = "created" | "running" | "restarting" | "exited";

export interface ContainerState {
  id: string;
  name: string;
  rootfs: string;
  /** The image reference and id, empty for --rootfs DIR. */
  image: string;
  imageId: string;
  command: string[];
  created: string;
  status: Status;
  /** The cbox process that owns a starting or running container, and its start time; none while it waits for cbox start. */
  owner?: { pid: number; startTime: string };
  remove: boolean;
  /** The container's PID 1 on the host, and its start time (a pid alone may be reused). */
  pid?: number;
  pidStartTime?: string;
  started?: string;
  exitCode?: number | null;
  finished?: string;
  /** The container's cgroup folders, recorded before they are made. */
  cgroups?: string[];
  /** The kernel killed a process in it for memory. */
  oomKilled?: boolean;
  limits?: Limits;
  volumes?: Volume[];
  /** Seconds from SIGTERM to SIGKILL for cbox stop (--stop-timeout). */
  stopTimeout?: number;
  /** Started with run -d: a monitor owns it while it runs, and its output is in its log. */
  detached?: boolean;
  /**
   * Everything it was made with, for start and exec: written into spec.json when the container
   * is made (read it with readSpec); in state.json only in containers made by an older cbox.
   */
  spec?: ContainerSpec;
  /** Its network while it runs: address, veth, published ports, helper (recorded before made). */
  network?: NetworkAttachment;
  /** Named networks connected while it runs (cbox network connect), released with the rest at its end. */
  connected?: NetworkAttachment[];
  /** Its restart policy's bookkeeping: restarts so far, the last back-off, and whether the user stopped or killed it. */
  restartCount?: number;
  restartDelayMs?: number;
  manuallyStopped?: boolean;
  /** Frozen by cbox pause (what ps shows; the freezer is the truth pause and unpause check). */
  paused?: boolean;
  /** cbox restart stops it to start it again: its end must not remove it (--rm). */
  stoppedToRestart?: boolean;
}

/** 64 hex digits. Web Crypto, not node:crypto, whose import costs ~10 ms of start-up (measured). */
export function newContainerId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
}

export { containerDirs, listContainerIds, readSpec, readState };

export function ownerSelf(): ContainerState["owner"] {
  return ownerOf(process.pid);
}

export function ownerOf(pid: number): ContainerState["owner"] {
  return { pid, startTime: processStartTime(pid) ?? "" };
}

function writeState(dir: string, state: ContainerState): void {
  writeAtomic(join(dir, "state.json"), `${JSON.stringify(state)}\n`, 0o600);
}

/**
 * Creates the container's folder (prepared under a temporary name holding our pid, then renamed
 * into place) and then reserves its name. Either fails cleanly with nothing left.
 */
export function createContainer(paths: Paths, state: ContainerState, rootOwner?: { uid: number; gid: number }): ContainerDirs {
  mkdirSync(paths.containers, { recursive: true, mode: 0o700 });
  mkdirSync(paths.names, { recursive: true, mode: 0o700 });
  mkdirSync(paths.live, { recursive: true, mode: 0o700 });
  const dirs = containerDirs(paths, state.id);
  const tmp = join(paths.containers, `.new-${process.pid}-${state.id}`);
  mkdirSync(tmp, { mode: 0o700 });
  try {
    for (const sub of ["rootfs", "upper", "work"]) mkdirSync(join(tmp, sub), { mode: 0o755 });
    // --userns=private: the container's root (an unprivileged host id) mounts the overlay, so it
    // must reach these folders (search only: nobody may list them) and own the writable ones.
    if (rootOwner) {
      for (const sub of ["rootfs", "upper", "work"]) chownSync(join(tmp, sub), rootOwner.uid, rootOwner.gid);
      chmodSync(tmp, 0o711);
      chmodSync(paths.containers, 0o711);
      chmodSync(paths.root, 0o711);
      const closed = closedAncestor(paths.root);
      if (closed) throw new CboxError(`--userns=private: the container's root cannot reach ${paths.root}: ${closed} is not searchable by others (chmod o+x ${closed})`);
    }
    // Written straight: the folder appears whole, by the rename.
    const { spec, ...record } = state;
    if (spec) writeFileSync(join(tmp, "spec.json"), `${JSON.stringify(spec)}\n`, { mode: 0o600 });
    writeFileSync(join(tmp, "state.json"), `${JSON.stringify(record)}\n`, { mode: 0o600 });
    // After the temporary folder is there (recoverStale keeps an entry whose folder is being made)
    markLive(dirs.live);
    renameSync(tmp, dirs.dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    markEnded(dirs.live);
    throw err;
  }
  if (state.name) {
    try {
      reserveName(paths, state.name, state.id);
    } catch (err) {
      rmSync(dirs.dir, { recursive: true, force: true });
      markEnded(dirs.live);
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      throw nameInUse(paths, state.name);
    }
  }
  return dirs;
}

function nameInUse(paths: Paths, name: string): CboxError {
  const holder = readNameHolder(paths, name);
  return new CboxError(`the name "${name}" is already in use by container ${holder.slice(0, 12)}; remove it or pick another name`);
}

/** Gives container id a new name (cbox rename): the new one taken first, the old one freed last. Call holding its lock. */
export function renameInStore(paths: Paths, state: ContainerState, name: string): void {
  const dirs = containerDirs(paths, state.id);
  try {
    reserveName(paths, name, state.id);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw nameInUse(paths, name);
    throw err;
  }
  try {
    const spec = readSpec(dirs.dir, state);
    if (spec) writeSpec(dirs, state, { ...spec, name });
    updateState(dirs, { name });
  } catch (err) {
    releaseName(paths, name, state.id);
    throw err;
  }
  if (state.name) releaseName(paths, state.name, state.id);
}

/** Replaces what the container was made with (its spec.json; in state.json for containers of an older cbox). */
export function writeSpec(dirs: ContainerDirs, state: ContainerState, spec: ContainerSpec): void {
  if (state.spec) updateState(dirs, { spec });
  else writeAtomic(join(dirs.dir, "spec.json"), `${JSON.stringify(spec)}\n`, 0o600);
}

/** Frees name if it is id's. */
function releaseName(paths: Paths, name: string, id: string): void {
  if (readNameHolder(paths, name) === id) rmSync(join(paths.names, name), { force: true });
}

/** The container may run (made, or started again): a start's recoverStale looks at it. */
function markLive(entry: string): void {
  writeFileSync(entry, "", { mode: 0o600 });
}

/** Its end is recorded (or it is gone): no start needs to look at it again. */
function markEnded(entry: string): void {
  try {
    unlinkSync(entry); // one call: rmSync would lstat first
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

function readdirOrUndefined(dir: string): string[] | undefined {
  try {
    return readdirSync(dir);
  } catch {
    return undefined;
  }
}

/**
 * Takes a name for id, or fails with EEXIST. The file appears whole (written under a temporary
 * name, then hard-linked into place, which fails if the name exists): a reader never sees it
 * empty, so another cbox's recoverStale cannot take a half-written name for one that points nowhere.
 */
function reserveName(paths: Paths, name: string, id: string): void {
  try {
    linkName(paths, name, id);
  } catch (err) {
    // A name whose container is gone (its folder removed by hand, or a cbox killed in between) is free.
    const holder = (err as NodeJS.ErrnoException).code === "EEXIST" ? readNameHolder(paths, name) : "";
    if (!holder || existsSync(containerDirs(paths, holder).dir)) throw err;
    rmSync(join(paths.names, name), { force: true });
    linkName(paths, name, id);
  }
}

function linkName(paths: Paths, name: string, id: string): void {
  const tmp = join(paths.names, `.tmp-${process.pid}-${id}`);
  writeFileSync(tmp, id, { mode: 0o600 });
  try {
    linkSync(tmp, join(paths.names, name));
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The first folder above path that others may not search, if any. */
function closedAncestor(path: string): string | undefined {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return dir;
    if (dir === "/") return undefined;
  }
}

/**
 * Merges change into state.json, and keeps live/ in step with the status: the entry is made
 * before a state that may run (owned) is written, and removed after one that cannot is, so that
 * a cbox killed in between leaves an entry too many (which a start's recovery drops), never one
 * too few.
 */
export function updateState(dirs: ContainerDirs, change: Partial<ContainerState>): ContainerState | undefined {
  const state = readState(dirs.dir);
  if (!state) return undefined;
  const next = { ...state, ...change };
  if (change.status === "exited") delete next.paused; // a paused container's end thaws it
  if (owned(next) && !owned(state)) markLive(dirs.live);
  writeState(dirs.dir, next);
  if (change.status === "exited" || (owned(state) && !owned(next))) markEnded(dirs.live);
  return next;
}

/** Removes a container's folder and name. removeTree may need a user namespace (rootless). */
export function removeContainer(paths: Paths, id: string, removeTree: (path: string) => void, opts: { volumes?: boolean } = {}): void {
  const dirs = containerDirs(paths, id);
  const state = readState(dirs.dir);
  if (opts.volumes && state) for (const v of readSpec(dirs.dir, state)?.volumes ?? []) if (v.anonymous) removeTree(dirname(v.source));
  if (state?.name) releaseName(paths, state.name, id);
  if (state?.cgroups) removeCgroups(state.cgroups, cgroupfs);
  if (state) releaseNetworks(state, id, paths);
  detachLowers(dirs.dir);
  removeTree(dirs.dir);
  markEnded(dirs.live);
}

/**
 * A cbox killed while starting a --userns=private container can leave its idmapped layers
 * mounted: on lower/<i>, or on lower itself (one layer, before layered images).
 */
function detachLowers(containerDir: string): void {
  const lower = join(containerDir, "lower");
  if (!existsSync(lower) || detachMount(lower)) return;
  for (const name of readdirSync(lower)) detachMount(join(lower, name));
}

/**
 * Brings the store back to the truth after a cbox was killed: a container whose owner is gone
 * was killed with it (PDEATHSIG), so it is removed (--rm) or recorded as exited, and its cgroups
 * go; half-created folders and temporary names of dead processes go.
 *
 * scope "live" (every start): only the containers in live/, the ones not known to have ended,
 * so that a start does not read the state of every container kept. "all" (ps, rm, inspect, port,
 * and a store made before live/ existed): every container, live/ made again from their states,
 * and names whose container is gone freed.
 */
export function recoverStale(paths: Paths, removeTree: (path: string) => void, scope: "live" | "all" = "live"): void {
  let entries: string[];
  try {
    entries = readdirSync(paths.containers);
  } catch {
    return; // no store yet
  }
  const indexed = readdirOrUndefined(paths.live);
  const everything = scope === "all" || indexed === undefined;
  // The index is made once the store has containers (a bad command on an empty store makes nothing).
  if (everything && entries.some((e) => CONTAINER_ID.test(e))) mkdirSync(paths.live, { recursive: true, mode: 0o700 });
  for (const entry of entries) {
    const orphan = orphanedTemp(entry, ".new-");
    if (orphan !== undefined) {
      if (orphan) rmSync(join(paths.containers, entry), { recursive: true, force: true });
      continue;
    }
    if (!everything || !CONTAINER_ID.test(entry)) continue;
    const state = readState(containerDirs(paths, entry).dir);
    if (state && owned(state)) markLive(containerDirs(paths, entry).live);
    if (state && endUnrecorded(state)) recordEndLocked(paths, entry, removeTree);
  }
  recoverLive(paths, everything ? safeReaddir(paths.live) : indexed!, removeTree);
  for (const name of safeReaddir(paths.names)) {
    const orphan = orphanedTemp(name, ".tmp-");
    if (orphan !== undefined) {
      if (orphan) rmSync(join(paths.names, name), { force: true });
      continue;
    }
    if (!everything) continue;
    const id = readNameHolder(paths, name);
    if (id && !readState(containerDirs(paths, id).dir)) rmSync(join(paths.names, name), { force: true });
  }
}

/** The containers in live/: ended ones leave it, ones whose owner died are recorded as ended. */
function recoverLive(paths: Paths, ids: string[], removeTree: (path: string) => void): void {
  for (const id of ids) {
    if (!CONTAINER_ID.test(id)) continue;
    const dirs = containerDirs(paths, id);
    const state = readState(dirs.dir);
    if (!state) {
      // Being made (its temporary folder is there), or gone: looked for now, after live/ was read
      if (!safeReaddir(paths.containers).some((e) => e === id || (e.startsWith(".new-") && e.endsWith(`-${id}`)))) markEnded(dirs.live);
    } else if (!owned(state)) markEnded(dirs.live);
    else if (endUnrecorded(state)) recordEndLocked(paths, id, removeTree);
  }
}

/** recordEnd under the container's lock, if its end is still unrecorded once the lock is held. */
function recordEndLocked(paths: Paths, id: string, removeTree: (path: string) => void): void {
  const dirs = containerDirs(paths, id);
  withContainerLock(dirs.dir, () => {
    const now = readState(dirs.dir);
    if (now && endUnrecorded(now)) recordEnd(paths, now, removeTree);
  });
}

/**
 * Records that a container has ended: its exit code and end time from the monitor's exit file
 * (unknown when its owner was killed first), an OOM kill; its cgroups go, and with --rm all of it.
 * next gives what to record with the end (from the ended state). Call holding the container's lock.
 */
export function recordEnd(paths: Paths, state: ContainerState, removeTree: (path: string) => void, next?: (ended: ContainerState) => Partial<ContainerState>): void {
  const dirs = containerDirs(paths, state.id);
  const exit = readExitFile(dirs.exit);
  const oomKilled = state.cgroups ? oomKillsIn(state.cgroups, cgroupfs) > 0 : false;
  if (state.remove && !state.stoppedToRestart) return removeContainer(paths, state.id, removeTree, { volumes: true });
  if (state.cgroups) removeCgroups(state.cgroups, cgroupfs);
  const end: Partial<ContainerState> = { status: "exited", exitCode: exit?.code ?? null, finished: exit?.finished ?? new Date().toISOString(), oomKilled, ...releaseNetworks(state, state.id, paths) };
  // One write: what comes next (a restart policy's wait) is never preceded by a moment of "exited" that a reader without the lock (stop, ps) could take as final.
  updateState(dirs, { ...end, ...next?.({ ...state, ...end }) });
}

/** The monitor's record of the end: "WAIT-STATUS FINISHED-TIME". */
export function readExitFile(path: string): { code: number; finished: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const m = /^(\d+) (\S+)\n$/.exec(text);
  return m ? { code: exitCodeOf(Number(m[1])), finished: m[2]! } : undefined;
}
