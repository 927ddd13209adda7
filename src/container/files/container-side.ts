// cbox run again as a container's root. For cp, the container's side of the copy (`cbox _cp`):
// in its user namespace when it has one, so owners and permissions are the container's; for a
// running container through its PID 1's /proc/PID/root, for a stopped one with its overlay
// mounted on its rootfs folder in a mount namespace of the helper's own (under the container's
// lock, so it cannot start meanwhile); cbox's own side talks to it through a pipe. For an
// ordinary user's diff and export, the whole command as root of a user namespace with the
// user's maps, where the other ids of its range are its own.
import { closeSync, constants, openSync, statSync } from "node:fs";
import { CboxError, describeErrno } from "../../errors.ts";
import { CloneFlag } from "../../linux/namespaces.ts";
import { containerUserMaps, detectRootlessMaps, inUserNamespace, setgroupsAllowed, setgroupsAllowedIn, writeMaps, type UserMaps } from "../../linux/userns.ts";
import type { Paths } from "../../paths.ts";
import { selfCommand } from "../../self-command.ts";
import { detachMount } from "../../sys/idmap.ts";
import type { Op } from "../../sys/ops.ts";
import { exitCodeOf, killQuietly, spawnHeld, type HeldChild } from "../../sys/process.ts";
import { pipe } from "../../sys/stdio.ts";
import { imageLowers } from "../image-layer.ts";
import { holdFolderLock } from "../lock.ts";
import { becomeNamespaceRoot, describeOp, execOp, mountRoot, type ContainerDirs } from "../plan.ts";
import { resolveContainer } from "../remove.ts";
import { liveState, pid1Alive } from "../status.ts";
import type { ContainerSpec } from "../spec.ts";
import { containerDirs, readSpec, readState } from "../store-read.ts";
import type { ContainerState } from "../store.ts";

/** What the helper is told: where the container's files are, and how messages place them. */
export interface Side {
  root: string;
  where: string;
}

/**
 * How cbox's side meets the helper's: "pipe-in": cbox writes what the helper reads on stdin;
 * "pipe-out": cbox reads what the helper writes on stdout; else the helper reads stdin from
 * `stdin` (an fd) and writes cbox's own stdout.
 */
export type Channel = { kind: "pipe-in" } | { kind: "pipe-out" } | { kind: "direct"; stdin?: number };

/** The helper's exit code when its reader went away (EPIPE): 128 + SIGPIPE, as a shell reports a pipe's writer. */
export const BROKEN_PIPE = 141;

const SIGKILL = 9;
/** Where a running container's root folder is open in the helper: the first fd after stdio, kept when the rest are closed. */
const ROOT_FD = 3;

/**
 * Runs `cbox _cp ARGS` as the container's root while `own` does cbox's side with its end of the
 * channel (-1 when direct). Returns the helper's exit code (it has said why when not 0); a
 * failure of cbox's side is thrown, unless the helper failed first.
 */
export async function withContainerSide(paths: Paths, ref: string, args: (side: Side) => string[], channel: Channel, own: (fd: number) => Promise<void>): Promise<number> {
  const dirs = containerDirs(paths, resolveContainer(paths, ref));
  const unlock = holdFolderLock(dirs.dir);
  let helper: { child: HeldChild; ours: number } | undefined;
  try {
    const state = readState(dirs.dir);
    if (!state) throw new CboxError(`no such container: ${ref}`);
    const spec = readSpec(dirs.dir, state);
    if (!spec?.security) throw new CboxError(`container ${ref} was made by an older cbox that did not keep its settings; cbox cp needs them`);
    const where = `in container ${ref}`;
    const live = liveState(state);
    if (live === "running" && pid1Alive(state)) {
      unlock(); // a running container's files are reached through its PID 1: nothing to hold
      helper = spawnInRunning(state, (root) => args({ root, where }), channel, ref);
    } else if (live === "exited") {
      helper = spawnOnStopped(dirs, spec, (root) => args({ root, where }), channel);
    } else {
      throw new CboxError(`container ${ref} is starting or stopping; try again in a moment`);
    }
    let failure: unknown;
    try {
      await own(helper.ours);
    } catch (err) {
      failure = err;
    } finally {
      if (helper.ours >= 0) closeSync(helper.ours);
    }
    // cbox's side failed while the helper may still be reading: it must not report a cut archive too.
    const killed = failure !== undefined && channel.kind === "pipe-in" && (failure as NodeJS.ErrnoException).code !== "EPIPE";
    if (killed) killQuietly(helper.child.pid);
    const code = exitCodeOf(helper.child.wait());
    if (failure === undefined) return code;
    if (code !== 0 && code !== BROKEN_PIPE && !killed) return code;
    throw failure;
  } finally {
    unlock();
  }
}

/**
 * A running container: the helper joins its user namespace (if it has one) and gets its root
 * folder open (fd 3), opened here from /proc/PID/root once the pid is known to be still the
 * container's, so that a pid reused meanwhile cannot hand it another process's root.
 */
function spawnInRunning(state: ContainerState, args: (root: string) => string[], channel: Channel, ref: string): { child: HeldChild; ours: number } {
  const pid = state.pid!;
  const opened: number[] = [];
  try {
    const userns = statSync(`/proc/${pid}/ns/user`).ino !== statSync("/proc/self/ns/user").ino ? openSync(`/proc/${pid}/ns/user`, "r") : -1;
    if (userns >= 0) opened.push(userns);
    const root = openSync(`/proc/${pid}/root`, constants.O_RDONLY | constants.O_DIRECTORY);
    opened.push(root);
    if (!pid1Alive(state)) throw new CboxError(`container ${ref} is not running`);
    const joins: Op[] = userns >= 0 ? [{ op: "setns", ints: [userns, CloneFlag.newuser] }, ...becomeNamespaceRoot(setgroupsAllowedIn(pid))] : [];
    return spawnHelper(joins, ["_cp", ...args(`/proc/self/fd/${ROOT_FD}`)], channel, CloneFlag.vm, { rootFd: root });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new CboxError(`container ${ref} is not running`);
    throw err;
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

/**
 * A stopped container: the helper gets a mount namespace (and the container's user namespace
 * maps, when it had one) and mounts the container's overlay there, as its start would.
 */
function spawnOnStopped(dirs: ContainerDirs, spec: ContainerSpec, args: (root: string) => string[], channel: Channel): { child: HeldChild; ours: number } {
  const maps = containerUserMaps(spec.userns);
  const lowers = imageLowers(spec, maps, dirs.dir, process.env);
  try {
    const setup: Op[] = [...(maps ? becomeNamespaceRoot(setgroupsAllowed(maps)) : []), ...mountRoot(dirs, lowers.lowerdirs, lowers.base, maps !== undefined), { op: "chdir", strs: ["/"] }];
    return spawnHelper(setup, ["_cp", ...args(dirs.rootfs)], channel, CloneFlag.newns | (maps ? CloneFlag.newuser : 0) | CloneFlag.vm, { maps });
  } finally {
    for (const target of lowers.mounted) detachMount(target); // the helper has its own copies by now, or failed
  }
}

/**
 * Clones cbox's helper (`cbox ARGV`, run as the same executable), its stdio joined to `channel`
 * and its setup done; with rootFd, that folder open on ROOT_FD. maps: its new user namespace's.
 */
function spawnHelper(setup: Op[], argv: string[], channel: Channel, flags: number, opts: { maps?: UserMaps; rootFd?: number; env?: Record<string, string | undefined> } = {}): { child: HeldChild; ours: number } {
  const { maps, rootFd, env = process.env } = opts;
  const [read, write] = channel.kind === "direct" ? [-1, -1] : pipe();
  const theirs = channel.kind === "pipe-in" ? read : write;
  const ours = channel.kind === "pipe-in" ? write : read;
  const stdio: Op[] =
    channel.kind === "pipe-in" ? [{ op: "dup2", ints: [theirs, 0] }] : channel.kind === "pipe-out" ? [{ op: "dup2", ints: [theirs, 1] }] : channel.stdin !== undefined ? [{ op: "dup2", ints: [channel.stdin, 0] }] : [];
  const environment = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  // The root goes on ROOT_FD after stdio, which a pipe end there would have been moved from first.
  const keep: Op[] = rootFd === undefined ? [{ op: "closeFrom", ints: [ROOT_FD] }] : [{ op: "dup2", ints: [rootFd, ROOT_FD] }, { op: "closeFrom", ints: [ROOT_FD + 1] }];
  const plan: Op[] = [{ op: "pdeathsig", ints: [SIGKILL] }, ...stdio, ...setup, ...keep, execOp([...selfCommand(), ...argv], environment)];
  let child: HeldChild | undefined;
  try {
    child = spawnHeld(plan, flags);
    if (maps) {
      try {
        writeMaps(child.pid, maps);
      } catch (err) {
        throw new CboxError(`cannot write the user namespace maps: ${(err as Error).message}`);
      }
    }
    const failure = child.release();
    if (failure) {
      child.wait();
      throw new CboxError(`cannot reach the container's files: ${plan[failure.index] ? describeOp(plan[failure.index]!) : `step ${failure.index}`}: ${describeErrno(failure.errno)}`);
    }
  } catch (err) {
    child?.abort();
    if (ours >= 0) closeSync(ours);
    throw err;
  } finally {
    if (theirs >= 0) closeSync(theirs);
  }
  return { child, ours };
}

/**
 * An ordinary user's containers give files to the other ids of the user's range, which the user
 * may not read on the host: the same command runs again as root of a user namespace with the
 * user's maps, where those ids are its own. Its exit code, or undefined when this process needs
 * no such thing (root, already in a user namespace, or no range).
 */
export function rerunAsNamespaceRoot(paths: Paths): number | undefined {
  if (process.getuid!() === 0 || inUserNamespace()) return undefined;
  const maps = detectRootlessMaps();
  if (maps.ownIdOnly) return undefined;
  const env = { ...process.env, CBOX_ROOT: paths.root };
  const { child } = spawnHelper(becomeNamespaceRoot(setgroupsAllowed(maps)), process.argv.slice(2), { kind: "direct" }, CloneFlag.newuser | CloneFlag.vm, { maps, env });
  return exitCodeOf(child.wait());
}
