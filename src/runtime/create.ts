// `create`: the container is made and its process set up, then left waiting on the exec fifo for
// `start`; create returns and whoever started it (an engine's shim) becomes its parent.
import { closeSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from "node:fs";
import { release } from "node:os";
import { CboxError, describeErrno, systemErrorText } from "../errors.ts";
import { ALLOWED_DEVICES } from "../linux/cgroups/devices.ts";
import { parseLayout } from "../linux/cgroups/detect.ts";
import { cgroupView } from "../linux/cgroups/mount-plan.ts";
import { hostLastCap } from "../linux/capabilities.ts";
import type { KernelPath } from "../linux/mounts.ts";
import { withChildrenInPidNamespace } from "../linux/namespaces.ts";
import { processStartTime } from "../linux/proc.ts";
import { hostSeccompArch } from "../linux/seccomp/arch.ts";
import { packFilter } from "../linux/seccomp/bpf.ts";
import { compileFilter } from "../linux/seccomp/compile.ts";
import { parseDockerProfile } from "../linux/seccomp/docker-profile.ts";
import { inUserNamespace, writeMaps, type UserMaps } from "../linux/userns.ts";
import { makeDeviceNodes } from "../sys/nodes.ts";
import { spawnHeld, SpawnError, type HeldChild, type Forwarding } from "../sys/process.ts";
import { netShim } from "../sys/shim.ts";
import { CleanupStack } from "../container/cleanup.ts";
import { startFailure } from "../container/start-failure.ts";
import { resolveInRoot } from "../container/target-path.ts";
import { cgroupRelativePath, deviceAllowList, RuntimeCgroup } from "./cgroup.ts";
import { hasLimits, loadBundle, type Bundle, type OciConfig, type OciNamespace, type OciResources } from "./config.ts";
import { runHooks } from "./hooks.ts";
import { buildRuntimePlan, hasNamespace, joinsUserNamespace, namespaceFlag, runtimeCloneFlags } from "./plan.ts";
import { checkId, specState, type RuntimeState, type StateDir } from "./state.ts";

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds: number;
  systemdCgroup: boolean;
  /** run in the foreground: signals to cbox go on to the container. */
  forward?: Forwarding;
}

const S_IFIFO = 0o010000;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;

/** Makes the container; returns its process, held by nobody once this cbox exits. */
export function createContainer(states: StateDir, opts: CreateOptions): { state: RuntimeState; child: HeldChild } {
  const id = checkId(opts.id);
  const bundle = loadBundle(opts.bundle);
  const config = bundle.config;
  checkCreatable(config, opts);
  const cleanup = new CleanupStack();
  const parentFds: number[] = [];
  states.claim(id);
  cleanup.push("remove the container's state", () => states.remove(id));
  try {
    const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
    const layout = parseLayout(mountinfo);
    const resources = config.linux?.resources;
    const devices = deviceAllowList(resources?.devices, ALLOWED_DEVICES);
    const cgroup = makeCgroup(new RuntimeCgroup(layout, cgroupRelativePath(config.linux?.cgroupsPath, id, opts.systemdCgroup), resources, devices), resources);
    if (cgroup) cleanup.push("remove the container's cgroup", () => cgroup.remove());

    const fds = openForChild(states, id, config, opts, parentFds);
    const plan = buildRuntimePlan(config, {
      rootfs: bundle.rootfs,
      resolve: (path) => resolveInRoot(bundle.rootfs, path),
      source: (path) => sourcePath(bundle, path),
      isFile: (path) => !statSync(path, { throwIfNoEntry: false })?.isDirectory(),
      kernelPaths: (paths) => kernelPaths(bundle.rootfs, paths),
      cgroups: cgroupView(mountinfo, layout),
      canMknod: !inUserNamespace(),
      lastCap: hostLastCap(),
      ...fds,
      selfEntry: cgroup?.selfEntry,
      seccomp: seccompFilter(config),
      preserveFds: opts.preserveFds,
    });

    const pidPath = config.linux?.namespaces?.find((ns) => ns.type === "pid")?.path;
    const child = pidPath ? inPidNamespace(pidPath, () => spawn(plan, runtimeCloneFlags(config), opts.forward)) : spawn(plan, runtimeCloneFlags(config), opts.forward);
    cleanup.push("stop the container's process", () => child.abort());
    if (cgroup && !cgroup.selfEntry) cgroup.enter(child.pid);
    const maps = userMaps(config);
    if (maps) writeMaps(child.pid, maps);

    const state = newState(id, child.pid, bundle, cgroup?.paths ?? []);
    states.write(state);
    writeFileSync(`${states.dir(id)}/config.json`, JSON.stringify(config)); // for exec: the bundle may change
    if (fds.hookFiles) writeFileSync(fds.hookFiles.statePath, JSON.stringify(specState(state, "created")));
    // The namespaces exist and nothing of the container has run yet: the spec's moment for these.
    runHooks("prestart", config.hooks?.prestart, specState(state, "created"));
    runHooks("createRuntime", config.hooks?.createRuntime, specState(state, "created"));
    const failure = child.release();
    if (failure) throw startFailure(plan, failure, bundle.rootfs);
    const container = forkedInto(child, state, states);
    if (opts.pidFile) writePidFile(opts.pidFile, container.pid);
    return { state: container, child };
  } catch (err) {
    for (const failure of cleanup.unwind()) writeSync(2, `cbox-runtime: cleanup: ${failure}\n`);
    throw err;
  } finally {
    for (const fd of parentFds) closeSync(fd);
  }
}

/** What the child needs open (or a free number for) from the start; each fd goes into parentFds, closed once it is cloned. */
function openForChild(states: StateDir, id: string, config: OciConfig, opts: CreateOptions, parentFds: number[]) {
  const fifo = states.fifo(id);
  const made = makeDeviceNodes([{ path: fifo, mode: S_IFIFO | 0o622, major: 0, minor: 0 }]);
  if (made) throw new CboxError(`cannot make ${fifo}: ${describeErrno(made.errno)}`);
  const keep = (fd: number) => (parentFds.push(fd), fd);
  const fifoFd = keep(openSync(fifo, O_PATH | O_CLOEXEC));
  const consoleFd = config.process!.terminal ? keep(connectConsole(opts.consoleSocket!)) : undefined;
  // A PID namespace is entered at clone: cbox's thread joins it for its next child (inPidNamespace).
  const joined = joinOrder((config.linux?.namespaces ?? []).filter((ns) => ns.path && ns.type !== "pid")).map((ns) => ({ fd: keep(openNamespace(ns.path!, ns.type)), type: namespaceFlag(ns.type) }));
  const cgroupMount = (config.mounts ?? []).some((m) => m.type === "cgroup" || m.type === "cgroup2");
  const hostCgroupFd = cgroupMount && !hasNamespace(config, "cgroup") ? reserveFd(parentFds) : undefined;
  const insideHooks = config.hooks?.createContainer?.length || config.hooks?.startContainer?.length;
  const hookFiles = insideHooks ? { statePath: `${states.dir(id)}/hook-state.json`, stateFd: reserveFd(parentFds), fifoFd: reserveFd(parentFds) } : undefined;
  return { fifoFd, consoleFd, joined, hostCgroupFd, hookFiles };
}

function newState(id: string, pid: number, bundle: Bundle, cgroupPaths: string[]): RuntimeState {
  const config = bundle.config;
  return {
    id,
    pid,
    pidStartTime: processStartTime(pid) ?? "",
    bundle: bundle.dir,
    rootfs: bundle.rootfs,
    created: new Date().toISOString(),
    annotations: config.annotations ?? {},
    cgroupPaths,
    hooks: { poststart: config.hooks?.poststart, poststop: config.hooks?.poststop },
    ownPidNamespace: hasNamespace(config, "pid") && !config.linux!.namespaces!.find((n) => n.type === "pid")!.path,
  };
}

/**
 * The container's cgroup, made. Root of a user namespace (rootless podman runs its runtime so)
 * may not be allowed to make one: without limits asked for, the container then runs in the
 * caller's cgroup, as runc's rootless containers do; with limits, that is an error.
 */
function makeCgroup(cgroup: RuntimeCgroup, resources: OciResources | undefined): RuntimeCgroup | undefined {
  try {
    cgroup.create();
    return cgroup;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const denied = code === "EACCES" || code === "EPERM" || code === "EROFS";
    if (!denied || !inUserNamespace() || hasLimits(resources)) throw err;
    return undefined;
  }
}

function checkCreatable(config: OciConfig, opts: CreateOptions): void {
  if (!config.process) throw new CboxError("config.json: process: is required to create a container");
  if (!hasNamespace(config, "mount")) {
    // The container's root would be set up in the host's mount table, and its mounts left there.
    throw new CboxError("config.json: linux.namespaces: cbox needs a mount namespace of the container's own (add {\"type\": \"mount\"})");
  }
  if (config.hostname !== undefined && config.hostname !== "" && !hasNamespace(config, "uts")) {
    throw new CboxError("config.json: hostname: setting it needs a uts namespace of the container's own");
  }
  if (config.process.terminal && !opts.consoleSocket) throw new CboxError("config.json: process.terminal is true: pass --console-socket for the terminal's master");
  if (joinsUserNamespace(config)) {
    // The process goes on in a child of its own (forkReport), which nothing of cbox's waits for.
    if (opts.forward) throw new CboxError("run: a container in a user namespace joined by path is not cbox's child, so run cannot wait for it; use create and start, or run --detach");
    if (config.hooks?.prestart?.length || config.hooks?.createRuntime?.length) throw new CboxError("config.json: hooks.prestart: with a user namespace joined by path the container's namespaces are made after these hooks would run; cbox does not support that yet");
  }
  if (!config.process.terminal && opts.consoleSocket) throw new CboxError("--console-socket: process.terminal is false in config.json; a console socket needs a terminal");
}

function spawn(plan: ReturnType<typeof buildRuntimePlan>, flags: number, forward: Forwarding | undefined): HeldChild {
  try {
    // Shares this process's memory until execve (cheap clone). After create's release the child
    // reads only what it had before (its plan, in the shim's memory), and nothing here clones again.
    return spawnHeld(plan, flags | 0x100 /* CLONE_VM */, forward);
  } catch (err) {
    if (err instanceof SpawnError) throw new CboxError(`cannot create the container's namespaces: ${describeErrno(err.errno)}`);
    throw err;
  }
}

/** Runs clone with this thread's children born in the PID namespace at path, then returns to cbox's own. */
function inPidNamespace<T>(path: string, clone: () => T): T {
  const target = openNamespace(path, "pid");
  try {
    return withChildrenInPidNamespace(target, clone, (errno) => new CboxError(`config.json: linux.namespaces: cannot join the pid namespace ${path}: ${describeErrno(errno)}`));
  } finally {
    closeSync(target);
  }
}

/** The order setns needs: the user namespace first (it gives the rights the others ask for), the mount namespace last (joining it moves the root). */
function joinOrder(namespaces: OciNamespace[]): OciNamespace[] {
  const rank = (ns: OciNamespace) => (ns.type === "user" ? 0 : ns.type === "mount" ? 2 : 1);
  return [...namespaces].sort((a, b) => rank(a) - rank(b));
}

/** An fd number held free for the child (it puts its own file there), closed here once it is cloned. */
function reserveFd(parentFds: number[]): number {
  const fd = openSync("/dev/null", "r");
  parentFds.push(fd);
  return fd;
}

/**
 * In a joined user namespace the process forked into its new PID namespace (forkReport): the
 * container is that child, left to whoever reaps orphans (an engine's shim, a subreaper); the
 * process cbox cloned has ended and is reaped here.
 */
function forkedInto(child: HeldChild, state: RuntimeState, states: StateDir): RuntimeState {
  if (child.forkedPid === undefined) return state;
  child.wait();
  const moved = { ...state, pid: child.forkedPid, pidStartTime: processStartTime(child.forkedPid) ?? "" };
  states.write(moved);
  return moved;
}

/** A relative bind source is relative to the bundle. */
function sourcePath(bundle: Bundle, source: string): string {
  return source.startsWith("/") ? source : `${bundle.dir}/${source}`;
}

/** /proc and /sys paths are the kernel's (the host's tell what the container's will hold); others are the root's. */
function kernelPaths(rootfs: string, paths: string[]): KernelPath[] {
  return paths.flatMap((path) => {
    const onHost = /^\/(proc|sys)(\/|$)/.test(path) ? path : `${rootfs}${resolveInRoot(rootfs, path)}`;
    const st = statSync(onHost, { throwIfNoEntry: false });
    return st ? [{ path, isDir: st.isDirectory() }] : [];
  });
}

function openNamespace(path: string, type: string): number {
  try {
    return openSync(path, "r");
  } catch (err) {
    throw new CboxError(`config.json: linux.namespaces: the ${type} namespace ${path}: ${systemErrorText(err)}`);
  }
}

export function connectConsole(path: string): number {
  const fd = netShim().cbox_unix_connect(Buffer.from(`${path}\0`));
  if (fd < 0) throw new CboxError(`--console-socket ${path}: cannot connect: ${describeErrno(-fd)}`);
  return fd;
}

/** The config's filter, compiled for this machine; none when the config has none. */
export function seccompFilter(config: OciConfig): BigInt64Array | undefined {
  const seccomp = config.linux?.seccomp;
  if (!seccomp) return undefined;
  try {
    const profile = parseDockerProfile(JSON.stringify(seccomp), "linux.seccomp");
    if (!profile) return undefined;
    const caps = new Set(config.process?.capabilities?.bounding ?? []);
    return packFilter(compileFilter(profile, { arch: hostSeccompArch(), caps, kernel: release() }));
  } catch (err) {
    throw new CboxError(`config.json: ${(err as Error).message}`);
  }
}

function userMaps(config: OciConfig): UserMaps | undefined {
  if (!(runtimeCloneFlags(config) & namespaceFlag("user"))) return undefined;
  const ranges = (list: NonNullable<NonNullable<OciConfig["linux"]>["uidMappings"]>) => list.map((m) => ({ inside: m.containerID, outside: m.hostID, count: m.size }));
  return { uid: ranges(config.linux!.uidMappings!), gid: ranges(config.linux!.gidMappings!), privileged: process.getuid!() === 0 };
}

/** Written whole or not at all: an engine may read it the moment it appears. */
export function writePidFile(path: string, pid: number): void {
  writeFileSync(`${path}.tmp`, String(pid));
  renameSync(`${path}.tmp`, path);
}
