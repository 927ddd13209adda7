// `cbox run`: create, start, then wait, record and clean up (foreground) or hand over to a monitor (-d).
import { closeSync, copyFileSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { printError, warn } from "../cli/output.ts";
import { CboxError, describeErrno, systemErrorText } from "../errors.ts";
import { warmCgroupAttach } from "../linux/cgroups/attach-warmup.ts";
import { CgroupWriteError, type ContainerCgroup } from "../linux/cgroups/cgroup.ts";
import { parseLayout, type CgroupLayout } from "../linux/cgroups/detect.ts";
import { ALLOWED_DEVICES } from "../linux/cgroups/devices.ts";
import { cgroupView } from "../linux/cgroups/mount-plan.ts";
import { formatBinaryBytes, type Limits } from "../linux/cgroups/limits.ts";
import { containerCloneFlags, withChildrenInPidNamespace } from "../linux/namespaces.ts";
import { processStartTime } from "../linux/proc.ts";
import { detectRootlessMaps, hostIdOfRoot, requirePrivateMaps, setgroupsAllowed, writeMaps, type UserMaps } from "../linux/userns.ts";
import type { Paths } from "../paths.ts";
import type { Op } from "../sys/ops.ts";
import { DetachedChild, exitCodeOf, spawnDetached, spawnHeld, SpawnError, type HeldChild } from "../sys/process.ts";
import { requireSupportedKernel } from "../host/kernel.ts";
import { mark } from "../timing.ts";
import { selfCommand } from "../self-command.ts";
import { CleanupStack } from "./cleanup.ts";
import { NO_NAMESERVERS_WARNING, writeEtcFiles } from "./etc-files.ts";
import { connectNetwork, etcNetwork, releaseNetworks, releaseRecordedNetwork, reserveNetwork } from "./network/attachment.ts";
import { refreshPeers } from "./network/peers.ts";
import { findNetwork, type NamedNetwork } from "./network/named.ts";
import { buildPlan, type ContainerDirs, type HostFacts } from "./plan.ts";
import { startFailure } from "./start-failure.ts";
import { anonymousVolumes } from "./anonymous-volumes.ts";
import { makeVolumes, placeVolumes, unmakeVolumes } from "./volume-use.ts";
import { treeRemover } from "./remove-tree.ts";
import { chooseCgroup, hostCgroups } from "./resources.ts";
import { buildSpec, type ContainerSpec, type RunOptions } from "./spec.ts";
import { Preparation } from "./prepare.ts";
import { replayOut, writeReplay } from "./replay.ts";
import { checkRootfsOwner, checkUserMapped } from "./rootless-fit.ts";
import { escapeThroughSymlinks } from "./target-path.ts";
import { deviceRules } from "./devices.ts";
import { withCidfile } from "./cidfile.ts";
import { checkSharingAllowed, childJoins, resolveSharedRefs, joinedContainers, sharedAtClone, sharedShm, type JoinedContainer } from "./shared-namespaces.ts";
import { active } from "./status.ts";
import { containerDirs, createContainer, newContainerId, ownerOf, ownerSelf, readState, recoverStale, removeContainer, updateState, type ContainerState } from "./store.ts";
import { attachClient, connectWhileStarting, listenForClients, startedTarget, type AttachOptions } from "./attach.ts";
import { FORWARDED_SIGNALS, STOP_SIGNALS } from "./sig-proxy.ts";

/** What a container start needs besides its spec, read once. */
interface Starting {
  spec: ContainerSpec;
  rootlessMaps?: UserMaps;
  removeTree: (path: string) => void;
  mounts: HostMounts;
}

/** The new container's spec from the flags, after the store is brought back to the truth. */
function newContainer(opts: RunOptions, paths: Paths): Starting {
  const rootless = process.getuid!() !== 0;
  if (rootless && opts.userns === "private") {
    throw new CboxError("--userns=private is for root: an ordinary user's containers always have a user namespace of their own");
  }
  const mounts = readMountsAndWarm();
  const rootlessMaps = rootless ? detectRootlessMaps() : undefined;
  const removeTree = treeRemover(rootlessMaps);
  recoverStale(paths, removeTree);
  mark("recover stale containers");

  const spec = buildSpec(opts, newContainerId(), process.env, warn);
  resolveSharedRefs(spec, paths);
  if (spec.network.network !== undefined) {
    if (rootless) throw new CboxError(`--network ${spec.network.network}: named networks are for root's containers; an ordinary user's containers each get slirp4netns (--network bridge)`);
    spec.network.network = namedNetworkOf(paths, spec.network.network).name;
  }
  spec.volumes.push(...anonymousVolumes(opts.config?.Volumes ?? [], [...spec.volumes, ...spec.tmpfs].map((m) => m.target)));
  placeVolumes(paths, spec.volumes);
  mark("container spec");
  return { spec, rootlessMaps, removeTree, mounts };
}

/**
 * cbox run: -d prints the id and leaves the container to its monitor; attach (-a, --sig-proxy=false)
 * runs it under a monitor too and attaches to it; else cbox runs it and waits (its exit code).
 */
export function runContainer(opts: RunOptions, paths: Paths, attach?: AttachOptions): number | Promise<number> {
  const { spec, ...start } = newContainer(opts, paths);
  const ref = spec.name || spec.id;
  const [code, client] = withCidfile(opts.cidfile, spec.id, () =>
    connectWhileStarting(ref, !!attach?.once, (onListening) => startContainer(spec, paths, { ...start, detach: !!opts.detach || !!attach, onListening: attach && onListening })),
  );
  if (attach) return attachClient(client!, startedTarget(ref, containerDirs(paths, spec.id), spec), attach);
  if (opts.detach) writeSync(1, `${spec.id}\n`);
  return code;
}

/** --network NAME (or a network's id): the named network, refused in one line naming the flag when there is none. */
function namedNetworkOf(paths: Paths, ref: string): NamedNetwork {
  try {
    return findNetwork(paths, ref);
  } catch (err) {
    throw new CboxError(`--network "${ref}": ${(err as Error).message.replace(/^no such network: \S+/, "no such network")}`);
  }
}

/** cbox create: the container is made, with its folder and settings, and waits for cbox start. */
export function createContainerOnly(opts: RunOptions, paths: Paths): number {
  const { spec, ...start } = newContainer(opts, paths);
  withCidfile(opts.cidfile, spec.id, () => startContainer(spec, paths, { ...start, detach: true, createOnly: true }));
  writeSync(1, `${spec.id}\n`);
  return 0;
}

export interface StartMode {
  detach: boolean;
  rootlessMaps?: UserMaps;
  removeTree: (path: string) => void;
  /** cbox start: the container's folder, claimed by the caller (status created, owner us). */
  existing?: ContainerDirs;
  /** existing waited for its first start (cbox create): a start that fails leaves it so. */
  firstStart?: boolean;
  /** cbox create: the container is made, and nothing runs. */
  createOnly?: boolean;
  /** Called once a detached container's attach socket listens, before it runs: a client that connects here misses none of its output. */
  onListening?: (dirs: ContainerDirs) => void;
  /** Read (and the cgroup move warmed) early by the caller, if it could. */
  mounts?: HostMounts;
}

/** The mount table, read once per start: the cgroup choice and the container's /sys/fs/cgroup come from it. */
export interface HostMounts {
  mountinfo: string;
  cgroups: CgroupLayout;
}

/** Reads the mount table and, on cgroup v2, starts warming the container's move into its cgroup (attach-warmup.ts). */
export function readMountsAndWarm(): HostMounts {
  const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
  const cgroups = parseLayout(mountinfo);
  if (cgroups.version === 2) warmCgroupAttach(cgroups, readFileSync("/proc/self/cgroup", "utf8"));
  return { mountinfo, cgroups };
}

/**
 * Creates (or reuses) the container's folder, makes its cgroup, clones it held, limits it, maps
 * its users and releases it; then waits for it (foreground: its exit code) or hands it to its
 * monitor (-d: 0). createOnly stops once the folder is made (0).
 */
export function startContainer(spec: ContainerSpec, paths: Paths, mode: StartMode): number {
  requireSupportedKernel();
  const rootless = process.getuid!() !== 0;
  // On start, what the container wrote (its upper layer) may hold links too.
  checkMountTargets(spec, [containerDirs(paths, spec.id).upper, ...(spec.layers ?? [spec.rootfs])]);
  if (mode.rootlessMaps) {
    checkUserMapped("--user", spec.user, mode.rootlessMaps);
    for (const gid of spec.user.added ?? []) checkUserMapped("--group-add", { uid: spec.user.uid, gid }, mode.rootlessMaps);
    checkRootfsOwner(spec.rootfs, mode.rootlessMaps);
  }
  const devices = spec.security.privileged ? undefined : [...ALLOWED_DEVICES, ...deviceRules(spec.devices ?? [])];
  const { mountinfo, cgroups } = mode.mounts ?? readMountsAndWarm();
  const { cgroup, warning } = chooseCgroup(spec.id, spec.limits, hostCgroups(rootless, cgroups), devices);
  if (warning) warn(warning);
  const maps = mode.rootlessMaps ?? (spec.userns === "private" ? requirePrivateMaps(process.env) : undefined);
  const host = hostFacts(maps, mountinfo, cgroups);
  checkSharingAllowed(spec, host.userNamespace);
  // Another container whose namespaces it joins must run when it starts, not when it is made.
  const joined = mode.createOnly ? {} : joinedContainers(spec, paths);
  mark("host checks");
  const cleanup = new CleanupStack();
  let prep: Preparation | undefined;
  let keep = false;
  /** The named volumes this start made: taken away again if it fails, kept once the container runs. */
  const madeVolumes: string[] = [];
  try {
    let dirs: ContainerDirs;
    if (mode.existing) {
      dirs = mode.existing;
      // A --rm container's overlay is volatile (plan.ts), and the kernel refuses its work folder
      // again while the mark it left there stays; its run has ended (cbox restart), so it goes.
      if (spec.remove) mode.removeTree(join(dirs.work, "work", "incompat"));
      cleanup.push("record that the container did not start", () => {
        cgroup?.remove();
        updateState(dirs, mode.firstStart ? { status: "created", owner: undefined } : { status: "exited" });
      });
    } else {
      const rangeRoot = maps?.privileged ? { uid: hostIdOfRoot(maps.uid), gid: hostIdOfRoot(maps.gid) } : undefined;
      dirs = createContainer(paths, newState(spec, cgroup, mode.detach), rangeRoot);
      cleanup.push("remove the container's folder", () => removeContainer(paths, spec.id, mode.removeTree, { volumes: true }));
      cleanup.push("remove the volumes it made", () => unmakeVolumes(paths, madeVolumes, spec.id, mode.removeTree));
      makeVolumes(paths, spec, madeVolumes, rangeRoot);
    }
    mark("container folder");
    if (mode.createOnly) {
      updateState(dirs, { owner: undefined }); // made: it waits for cbox start, owned by none
      keep = true;
      return 0;
    }
    // Recorded before anything is made, so a cbox killed from here on leaves a record to undo.
    const network = reserveNetwork(spec.network, rootless, { id: spec.id, paths, isAlive: containerRuns, record: (net) => updateState(dirs, { network: net }) });
    // A new container's folder removal releases its recorded network itself; a restarted one keeps its folder.
    if (network.mode === "bridge" && mode.existing) cleanup.push("release the network", () => updateState(dirs, { network: releaseRecordedNetwork(network, spec.id, paths) }));
    if (writeEtcFiles(dirs, spec.hostname, etcNetwork(network), spec.name, spec.etc).noNameservers) warn(NO_NAMESERVERS_WARNING);
    if (joined.net) for (const file of ["hosts", "resolvConf"] as const) copyFileSync(joined.net.dirs[file], dirs[file]);
    mark("network and /etc files");
    // Its paths are in state.json: removing the container's folder removes the cgroup too.
    if (cgroup) createCgroup(cgroup);
    mark("create cgroup");

    prep = new Preparation(spec, maps, dirs.dir, process.env, mode.detach, { joins: childJoins(joined), shm: sharedShm(spec, joined) });
    const plan = buildPlan(spec, dirs, host, prep.prepared, cgroup?.selfEntry);
    mark("plan");
    const flags = containerCloneFlags(host.userNamespace, spec.init, sharedAtClone(spec));
    if (replayOut && !mode.detach) writeReplay(replayOut, dirs.dir, plan, flags, cgroup?.paths ?? [], devices);
    const child = spawnInPidNamespace(joined.pid, mode.detach, (pidNamespaceFd) =>
      mode.detach ? spawnDetachedContainer(plan, flags, spec, dirs, paths, { pidNamespaceFd, onListening: mode.onListening }) : spawnContainer(plan, flags, spec.stopTimeout),
    );
    cleanup.push("stop the container", () => child.abort());
    prep.spawned();
    mark("clone");
    // Limited before it runs anything of its own: it waits for release until then, and a plan
    // that moves it in itself does that first.
    if (cgroup && !cgroup.selfEntry) enterCgroup(cgroup, child.pid);
    mark("enter cgroup");
    if (maps) writeChildMaps(child.pid, maps);
    if (connectNetwork(network, child.pid, dirs.dir)) updateState(dirs, { network });
    if (network.network) refreshPeers(paths, network.network);
    mark("maps and network");
    const failure = child.release();
    mark("child set up and exec");
    prep.started();
    if (failure) throw startFailure(plan, failure, dirs.rootfs);
    for (const [flag, other] of Object.entries(joined)) {
      if (other && !other.alive()) throw new CboxError(`--${flag === "net" ? "network" : flag} container:${other.spec.name || other.spec.id.slice(0, 12)}: that container stopped while this one started`);
    }
    madeVolumes.length = 0; // it started: they are the user's now, even with --rm
    const running: Partial<ContainerState> = { status: "running", pid: child.pid, pidStartTime: processStartTime(child.pid), started: new Date().toISOString() };

    if (child instanceof DetachedChild) {
      updateState(dirs, { ...running, owner: ownerOf(child.monitorPid) });
      child.started();
      keep = true;
      return 0;
    }
    updateState(dirs, running);
    prep.stdio.attach(child.pid);
    mark("record running");
    const code = exitCodeOf(child.wait());
    mark("container ran");
    const oomKilled = (cgroup?.oomKills() ?? 0) > 0;
    if (oomKilled) printError(outOfMemory(code, spec.limits));
    const ended = readState(dirs.dir);
    keep = !spec.remove || !!ended?.stoppedToRestart;
    if (cgroup && keep) removeOrWarn(cgroup);
    if (keep) updateState(dirs, { status: "exited", exitCode: code, finished: new Date().toISOString(), oomKilled, ...(ended && releaseNetworks(ended, spec.id, paths)) });
    return code;
  } finally {
    prep?.close();
    if (!keep) for (const failure of cleanup.unwind()) warn(`cleanup: ${failure}`);
    mark("clean up");
  }
}

/** Whether the container in dir is starting or running (a lease of one that is not comes back). */
export function containerRuns(dir: string): boolean {
  const state = readState(dir);
  return state !== undefined && active(state);
}

function checkMountTargets(spec: ContainerSpec, layers: string[]): void {
  for (const { target } of [...spec.volumes, ...spec.tmpfs]) {
    const escape = escapeThroughSymlinks(layers, target);
    if (escape) throw new CboxError(`mount target refused: ${escape}`);
  }
}

function newState(spec: ContainerSpec, cgroup: ContainerCgroup | undefined, detached: boolean): ContainerState {
  return {
    id: spec.id,
    name: spec.name,
    rootfs: spec.rootfs,
    image: spec.image.ref,
    imageId: spec.image.id,
    command: spec.command,
    created: new Date().toISOString(),
    status: "created",
    owner: ownerSelf(),
    remove: spec.remove,
    cgroups: cgroup?.paths,
    limits: spec.limits,
    volumes: spec.volumes,
    stopTimeout: spec.stopTimeout,
    detached,
    spec,
  };
}

function hostFacts(maps: UserMaps | undefined, mountinfo: string, layout: CgroupLayout): HostFacts {
  const inNamespace = maps !== undefined;
  const gidMapped = (gid: number) =>
    !maps || maps.gid.some((r) => gid >= r.inside && gid < r.inside + r.count);
  return {
    userNamespace: inNamespace,
    canMknod: !inNamespace,
    ttyGroupMapped: gidMapped(5),
    setgroupsAllowed: setgroupsAllowed(maps),
    cgroups: cgroupView(mountinfo, layout),
  };
}

/** Clones a held child; signals sent to cbox go on to it (docker's sig-proxy). */
export function spawnContainer(plan: Op[], flags: number, stopTimeout: number): HeldChild {
  try {
    return spawnHeld(plan, flags, { signals: FORWARDED_SIGNALS, stopSignals: STOP_SIGNALS, stopTimeout });
  } catch (err) {
    throw namespaceError(err);
  }
}

/** -d: a monitor clones it, logs its output, serves attached clients and records its end by running `cbox _exited`. */
function spawnDetachedContainer(
  plan: Op[],
  flags: number,
  spec: ContainerSpec,
  dirs: ContainerDirs,
  paths: Paths,
  opts: { pidNamespaceFd?: number; onListening?: (dirs: ContainerDirs) => void },
): DetachedChild {
  rmSync(dirs.exit, { force: true }); // the record of an earlier run (cbox start)
  const logFd = openSync(dirs.log, "a", 0o600);
  let attachFd = -1;
  try {
    attachFd = listenForClients(dirs);
    opts.onListening?.(dirs);
    const exitCommand = [...selfCommand(), "_exited", "--root", paths.root, spec.id];
    const stdin = spec.tty ? "tty" : spec.interactive ? "pipe" : "null";
    const title = `cbox-monitor ${spec.name || spec.id.slice(0, 12)}`;
    return spawnDetached(plan, flags, { logFd, stdin, attachFd, exitFile: dirs.exit, exitCommand, title, pidNamespaceFd: opts.pidNamespaceFd });
  } catch (err) {
    throw namespaceError(err);
  } finally {
    closeSync(logFd);
    if (attachFd >= 0) closeSync(attachFd);
  }
}

/**
 * --pid container:NAME: the child is born in that container's PID namespace. A foreground one
 * is cloned by cbox, whose thread joins it for that clone; a detached one by its monitor, which
 * joins it itself (the monitor stays outside: fork puts a child in the namespace its parent joined).
 */
function spawnInPidNamespace<T>(other: JoinedContainer | undefined, detach: boolean, spawn: (pidNamespaceFd?: number) => T): T {
  if (!other) return spawn();
  const fd = openSync(`/proc/${other.holder}/ns/pid`, "r");
  try {
    if (detach) return spawn(fd);
    const fail = (errno: number) => new CboxError(`--pid container:${other.spec.name || other.spec.id.slice(0, 12)}: cannot join its PID namespace: ${describeErrno(errno)}`);
    return withChildrenInPidNamespace(fd, () => spawn(), fail);
  } finally {
    closeSync(fd);
  }
}

function namespaceError(err: unknown): unknown {
  if (!(err instanceof SpawnError)) return err;
  const userns = process.getuid!() !== 0;
  const hint = userns
    ? "; unprivileged user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces), or run as root"
    : "";
  return new CboxError(`cannot create the container's namespaces: ${describeErrno(err.errno)}${hint}`);
}

function createCgroup(cgroup: ContainerCgroup): void {
  try {
    cgroup.create();
  } catch (err) {
    if (err instanceof CgroupWriteError) throw new CboxError(`${err.flag}: the kernel refused ${err.value} for ${err.file} (${err.code})`);
    throw new CboxError(`cannot create the container's cgroup: ${systemErrorText(err)}`);
  }
}

function enterCgroup(cgroup: ContainerCgroup, pid: number): void {
  try {
    cgroup.enter(pid);
  } catch (err) {
    throw new CboxError(`cannot move the container into its cgroup: ${systemErrorText(err)}`);
  }
}

/** The container ran; a cgroup that cannot go is worth a warning, not a failed run. */
function removeOrWarn(cgroup: ContainerCgroup): void {
  try {
    cgroup.remove();
  } catch (err) {
    warn(`cleanup: remove the container's cgroup: ${systemErrorText(err)}`);
  }
}

/** What the kernel's OOM killer did, in one line: PID 1 itself (137), or another process. */
function outOfMemory(code: number, limits: Limits): string {
  const limit = limits.memory === undefined ? "" : ` (limit ${formatBinaryBytes(limits.memory)})`;
  return code === 137 ? `container was killed: out of memory${limit}` : `a process in the container was killed: out of memory${limit}`;
}

function writeChildMaps(pid: number, maps: UserMaps): void {
  try {
    writeMaps(pid, maps);
  } catch (err) {
    throw new CboxError(`cannot write the user namespace maps: ${(err as Error).message}`);
  }
}
