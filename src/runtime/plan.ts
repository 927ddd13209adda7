// From an OCI config to the ops the shim's child runs, the same seam `cbox run` uses. Pure: the
// host facts (what exists on disk, fds) are gathered by the caller.
import type { CgroupView } from "../linux/cgroups/mount-plan.ts";
import { CAPABILITY_NAMES, capabilityMask } from "../linux/capabilities.ts";
import { attachVolume, cgroupFilesystem, cloneVolume, maskPaths, mkdirAll, mount, MountFlag, pivotRootInPlace, readOnlyPaths, readOnlyRoot, type KernelPath } from "../linux/mounts.ts";
import { CloneFlag } from "../linux/namespaces.ts";
import type { Op } from "../sys/ops.ts";
import { DEFAULT_PATH } from "../container/default-path.ts";
import { RLIMITS } from "../linux/rlimits.ts";
import { sysctlFile } from "../container/sysctls.ts";
import { type OciConfig, type OciDevice, type OciHook, type OciMount, type OciProcess } from "./config.ts";

/** What the caller found on the host and opened for the child. */
export interface RuntimeHost extends ProcessLock {
  /** The bundle's root, bound onto itself in the container's mount namespace. */
  rootfs: string;
  /** Where each mount's destination leads inside the root (its symlinks followed there). */
  resolve: (path: string) => string;
  /** A bind source's host path (a relative one is in the bundle). */
  source: (source: string) => string;
  /** Whether a bind source is a file (a file target is made for it) rather than a folder. */
  isFile: (hostPath: string) => boolean;
  /** Masked and read-only paths that exist, with their kind. */
  kernelPaths: (paths: string[]) => KernelPath[];
  cgroups: CgroupView;
  /** Device nodes need CAP_MKNOD in the host's user namespace; otherwise the host's are bound. */
  canMknod: boolean;
  /** Namespaces joined by path: open fds, in joining order. */
  joined: { fd: number; type: number }[];
  /** The exec fifo, open O_PATH: the process waits on it for `start`. undefined: no wait (not used). */
  fifoFd?: number;
  /** The console socket's connected fd (process.terminal). */
  consoleFd?: number;
  /** v1 tasks files the process writes "0" into to enter its cgroup itself. */
  selfEntry?: string[];
  /**
   * Without a cgroup namespace a cgroup mount shows the host's whole tree (and a user namespace
   * may not mount one at all): the host's /sys/fs/cgroup is bound instead, through this free fd.
   */
  hostCgroupFd?: number;
  /**
   * For createContainer and startContainer hooks, which the process runs: the state file it
   * opens first (the hooks' stdin) and free fd numbers for it and for the exec fifo's write end.
   */
  hookFiles?: { statePath: string; stateFd: number; fifoFd: number };
}

/** What a container's process keeps when it becomes its program. */
export interface ProcessLock {
  /** Highest capability number of this kernel. */
  lastCap: number;
  seccomp?: BigInt64Array;
  /** File descriptors after stderr that the program keeps (--preserve-fds). */
  preserveFds: number;
}

const NAMESPACE_FLAGS: Record<string, number> = {
  pid: CloneFlag.newpid, network: CloneFlag.newnet, mount: CloneFlag.newns, ipc: CloneFlag.newipc,
  uts: CloneFlag.newuts, user: CloneFlag.newuser, cgroup: CloneFlag.newcgroup,
};

/**
 * The clone flags: every namespace asked for without a path, except cgroup (unshared once in its
 * cgroup). None when a user namespace is joined by path: the new ones must belong to it, so the
 * process makes them after joining it (newNamespaceFlags).
 */
export function runtimeCloneFlags(config: OciConfig): number {
  return joinsUserNamespace(config) ? 0 : newNamespaceFlags(config);
}

/** The namespaces asked for without a path, cgroup aside. */
function newNamespaceFlags(config: OciConfig): number {
  return (config.linux?.namespaces ?? [])
    .filter((ns) => !ns.path && ns.type !== "cgroup")
    .reduce((flags, ns) => flags | NAMESPACE_FLAGS[ns.type]!, 0);
}

export function joinsUserNamespace(config: OciConfig): boolean {
  return (config.linux?.namespaces ?? []).some((ns) => ns.type === "user" && !!ns.path);
}

export function namespaceFlag(type: string): number {
  return NAMESPACE_FLAGS[type]!;
}

export function hasNamespace(config: OciConfig, type: string): boolean {
  return (config.linux?.namespaces ?? []).some((ns) => ns.type === type);
}

const FLAG_OPTIONS: Record<string, [set: number, clear: number]> = {
  ro: [MountFlag.rdonly, 0], rw: [0, MountFlag.rdonly],
  nosuid: [MountFlag.nosuid, 0], suid: [0, MountFlag.nosuid],
  nodev: [MountFlag.nodev, 0], dev: [0, MountFlag.nodev],
  noexec: [MountFlag.noexec, 0], exec: [0, MountFlag.noexec],
  sync: [16, 0], async: [0, 16], dirsync: [128, 0], mand: [64, 0], nomand: [0, 64],
  noatime: [1024, 0], atime: [0, 1024], nodiratime: [2048, 0], diratime: [0, 2048],
  relatime: [1 << 21, 0], norelatime: [0, 1 << 21], strictatime: [MountFlag.strictatime, 0], nostrictatime: [0, MountFlag.strictatime],
  remount: [MountFlag.remount, 0], bind: [MountFlag.bind, 0], rbind: [MountFlag.bind | MountFlag.rec, 0],
};

const PROPAGATION: Record<string, number> = {
  private: MountFlag.private, rprivate: MountFlag.private | MountFlag.rec,
  slave: 1 << 19, rslave: (1 << 19) | MountFlag.rec,
  shared: 1 << 20, rshared: (1 << 20) | MountFlag.rec,
  unbindable: 1 << 17, runbindable: (1 << 17) | MountFlag.rec,
};

/** A mount's options as mount(2) takes them: flags, propagation flags, and the rest as data. */
export function mountOptions(options: string[]): { flags: number; propagation: number[]; data: string } {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const o of options) {
    const f = FLAG_OPTIONS[o];
    if (f) flags = (flags | f[0]) & ~f[1];
    else if (PROPAGATION[o] !== undefined) propagation.push(PROPAGATION[o]!);
    else if (o !== "defaults") data.push(o);
  }
  return { flags, propagation, data: data.join(",") };
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** The nodes every container gets in a /dev of its own (runc's list). */
export const DEFAULT_DEVICES: OciDevice[] = [
  { path: "/dev/null", type: "c", major: 1, minor: 3 },
  { path: "/dev/zero", type: "c", major: 1, minor: 5 },
  { path: "/dev/full", type: "c", major: 1, minor: 7 },
  { path: "/dev/random", type: "c", major: 1, minor: 8 },
  { path: "/dev/urandom", type: "c", major: 1, minor: 9 },
  { path: "/dev/tty", type: "c", major: 5, minor: 0 },
];

const O_RDONLY = 0;
const O_WRONLY = 1;
const PR_SET_KEEPCAPS = 8;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_RAISE = 2;

/** The whole plan: set up, report ready, wait for start, become the process, exec. */
export function buildRuntimePlan(config: OciConfig, host: RuntimeHost): Op[] {
  const root = host.rootfs;
  const proc = config.process!;
  const newUser = runtimeCloneFlags(config) & CloneFlag.newuser;
  const joinsUser = joinsUserNamespace(config);
  const newCgroup = (config.linux?.namespaces ?? []).some((ns) => ns.type === "cgroup" && !ns.path);
  const ownDev = !(config.mounts ?? []).some((m) => m.destination === "/dev" && isBind(m));
  const hooks = host.hookFiles;
  return [
    ...(hooks ? [{ op: "openDup", ints: [O_RDONLY, hooks.stateFd], strs: [hooks.statePath] } satisfies Op] : []),
    // Into its cgroup first, while /sys/fs/cgroup is the host's (a joined mount namespace may lack it).
    ...(host.selfEntry ?? []).map((file): Op => ({ op: "write", strs: [file, "0"] })),
    ...host.joined.map((ns): Op => ({ op: "setns", ints: [ns.fd, ns.type] })),
    // In a joined user namespace the new namespaces are made now, owned by it; a new PID
    // namespace takes in only children, so the plan goes on in one (its pid reported).
    ...(joinsUser ? [{ op: "unshare", ints: [newNamespaceFlags(config)] } satisfies Op] : []),
    ...(newCgroup ? [{ op: "unshare", ints: [CloneFlag.newcgroup] } satisfies Op] : []),
    // A user namespace's process keeps unmapped host ids until it takes root's inside.
    ...(newUser || joinsUser ? [{ op: "setgid", ints: [0] } satisfies Op, { op: "setuid", ints: [0] } satisfies Op] : []),
    ...(joinsUser ? [{ op: "forkReport" } satisfies Op] : []),
    { op: "umask", ints: [0] },
    mount("", "/", "", rootPropagation(config.linux?.rootfsPropagation)),
    mount(root, root, "", MountFlag.bind | MountFlag.rec),
    ...(config.mounts ?? []).flatMap((m) => mountOps(m, host)),
    ...(ownDev ? devices(config, host, host.canMknod && !newUser && !joinsUser) : []),
    ...(config.hostname !== undefined && hasNamespace(config, "uts") ? [{ op: "sethostname", strs: [config.hostname] } satisfies Op] : []),
    ...hookOps(config.hooks?.createContainer, hooks?.stateFd),
    pivotRootInPlace(root),
    ...Object.entries(config.linux?.sysctl ?? {}).map(([key, value]): Op => ({ op: "write", strs: [sysctlFile(key), value] })),
    ...maskPaths("", outsideMaskedFolders(host.kernelPaths(config.linux?.maskedPaths ?? []))),
    ...readOnlyPaths("", host.kernelPaths(config.linux?.readonlyPaths ?? [])),
    ...cwdOps(proc.cwd),
    ...(config.root?.readonly ? [readOnlyRoot()] : []),
    ...finalPropagation(config.linux?.rootfsPropagation),
    { op: "umask", ints: [proc.user.umask ?? 0o022] },
    ...stdio(proc, host.consoleFd),
    ...processSteps(proc, host, [
      // From here no failure reaches create: only the wait for start, and what must come last.
      { op: "ready" },
      ...waitForStart(host.fifoFd, config.hooks?.startContainer, hooks),
    ]),
  ];
}

/**
 * The exec fifo's open returns when start opens it; startContainer hooks then run, and only after
 * them the byte start waits for is written (a failed hook ends the process: start sees no byte).
 */
function waitForStart(fifoFd: number | undefined, startHooks: OciHook[] | undefined, hooks: RuntimeHost["hookFiles"]): Op[] {
  if (fifoFd === undefined) return [];
  const fifo = `/proc/self/fd/${fifoFd}`;
  if (!startHooks?.length || !hooks) return [{ op: "write", strs: [fifo, "0"] }];
  return [
    { op: "openDup", ints: [O_WRONLY, hooks.fifoFd], strs: [fifo] },
    ...hookOps(startHooks, hooks.stateFd),
    { op: "write", strs: [`/proc/self/fd/${hooks.fifoFd}`, "0"] },
  ];
}

/** Hooks the process runs, each with the state file as its stdin. */
function hookOps(list: OciHook[] | undefined, stateFd: number | undefined): Op[] {
  return (list ?? []).map((h): Op => {
    const args = h.args?.length ? h.args : [h.path];
    const env = h.env ?? [];
    return { op: "hook", ints: [stateFd!, args.length, env.length, h.timeout ?? 0], strs: [h.path, ...args, ...env] };
  });
}

/**
 * The process's own steps, once it is where it runs: its limits, the check that its program is
 * there, its user and capabilities, then (after wait, for create's start) the last lockdown and exec.
 */
export function processSteps(proc: OciProcess, lock: ProcessLock, wait: Op[] = []): Op[] {
  return [
    ...(proc.rlimits ?? []).map((r): Op => ({ op: "rlimit", ints: [RLIMITS[r.type]!, BigInt(r.soft), BigInt(r.hard)] })),
    ...(proc.oomScoreAdj !== undefined ? [{ op: "write", strs: ["/proc/self/oom_score_adj", String(proc.oomScoreAdj)] } satisfies Op] : []),
    findExec(proc),
    // Before the filter, which may not allow close_range (runtime-tools' default profile does not).
    { op: "closeFrom", ints: [3 + lock.preserveFds] },
    ...becomeProcessUser(proc, lock),
    ...wait,
    ...lastLockdown(proc, lock),
    execOp(proc),
  ];
}

/** A path under a folder masked before it is hidden already (and gone from view: its mount would fail). */
export function outsideMaskedFolders(paths: KernelPath[]): KernelPath[] {
  const folders: string[] = [];
  return paths.filter(({ path, isDir }) => {
    if (folders.some((f) => path.startsWith(`${f}/`))) return false;
    if (isDir) folders.push(path);
    return true;
  });
}

function isBind(m: OciMount): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

/** "/" before anything is mounted: rslave unless private is asked (runc's default), so nothing goes back to the host. */
function rootPropagation(asked: string | undefined): number {
  return asked === "private" || asked === "rprivate" ? PROPAGATION.rprivate! : PROPAGATION.rslave!;
}

/**
 * shared or unbindable: set once the root is in place (an unbindable root could not be bound
 * onto itself, and shared mounts made before would propagate the setup).
 */
function finalPropagation(asked: string | undefined): Op[] {
  return asked && ["shared", "rshared", "unbindable", "runbindable"].includes(asked) ? [mount("", "/", "", PROPAGATION[asked]!)] : [];
}

function mountOps(m: OciMount, host: RuntimeHost): Op[] {
  const target = `${host.rootfs}${host.resolve(m.destination)}`;
  const { flags, propagation, data } = mountOptions(m.options ?? []);
  const bind = isBind(m);
  if (m.type === "cgroup" || m.type === "cgroup2") {
    const dir = host.resolve(m.destination);
    const writable = !(flags & MountFlag.rdonly);
    if (host.hostCgroupFd !== undefined) {
      const tree = { source: "/sys/fs/cgroup", target, readonly: !writable, isFile: false };
      return [cloneVolume(tree, host.hostCgroupFd), ...attachVolume(tree, host.hostCgroupFd)];
    }
    return [...mkdirAll(dir, host.rootfs), ...cgroupFilesystemAt(host.rootfs, dir, host.cgroups, writable)];
  }
  const source = bind ? host.source(m.source!) : "";
  const made = bind && host.isFile(source) ? [...mkdirAll(parentOf(host.resolve(m.destination)), host.rootfs), { op: "touch", ints: [0o644], strs: [target] } satisfies Op] : mkdirAll(host.resolve(m.destination), host.rootfs);
  const ops: Op[] = [...made];
  if (bind) {
    ops.push(mount(source, target, "", flags & (MountFlag.bind | MountFlag.rec) || MountFlag.bind));
    const extra = flags & ~(MountFlag.bind | MountFlag.rec);
    if (extra) ops.push(mount("", target, "", MountFlag.bind | MountFlag.remount | extra));
  } else {
    ops.push(mount(m.source ?? m.type ?? "none", target, m.type ?? "", flags, data));
  }
  for (const p of propagation) ops.push(mount("", target, "", p));
  return ops;
}

/** cgroupFilesystem builds /sys/fs/cgroup under a root; a bundle may put it elsewhere. */
function cgroupFilesystemAt(root: string, dir: string, view: CgroupView, writable: boolean): Op[] {
  const ops = cgroupFilesystem(root, view, { writable, sysFromHost: false });
  return dir === "/sys/fs/cgroup" ? ops : ops.map((op) => rebase(op, `${root}/sys/fs/cgroup`, `${root}${dir}`));
}

function rebase(op: Op, from: string, to: string): Op {
  return { ...op, strs: op.strs?.map((s) => (s.startsWith(from) ? to + s.slice(from.length) : s)) };
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/** The default nodes, then the config's; made with mknod, or bound from the host's in a user namespace. */
function devices(config: OciConfig, host: RuntimeHost, canMknod: boolean): Op[] {
  const root = host.rootfs;
  const wanted = [...DEFAULT_DEVICES.filter((d) => !(config.linux?.devices ?? []).some((c) => c.path === d.path)), ...(config.linux?.devices ?? [])];
  const ops: Op[] = [];
  for (const d of wanted) {
    const path = `${root}${host.resolve(d.path)}`;
    ops.push(...mkdirAll(parentOf(host.resolve(d.path)), root));
    if (canMknod) {
      const kind = d.type === "b" ? S_IFBLK : d.type === "p" ? S_IFIFO : S_IFCHR;
      ops.push({ op: "mknod", ints: [kind | (d.fileMode ?? 0o666), d.major ?? 0, d.minor ?? 0], strs: [path] });
      if (d.uid || d.gid) ops.push({ op: "chown", ints: [d.uid ?? 0, d.gid ?? 0], strs: [path] });
    } else {
      ops.push({ op: "touch", ints: [0o666], strs: [path] }, mount(d.path, path, "", MountFlag.bind));
    }
  }
  const link = (target: string, path: string): Op => ({ op: "symlink", strs: [target, `${root}${path}`] });
  const hasPts = (config.mounts ?? []).some((m) => m.destination === "/dev/pts");
  return [
    ...ops,
    ...(hasPts ? [link("pts/ptmx", "/dev/ptmx")] : []),
    link("/proc/self/fd", "/dev/fd"),
    link("/proc/self/fd/0", "/dev/stdin"),
    link("/proc/self/fd/1", "/dev/stdout"),
    link("/proc/self/fd/2", "/dev/stderr"),
  ];
}

/** runc makes a missing working directory; so does cbox. */
function cwdOps(cwd: string): Op[] {
  return [...mkdirAll(cwd), { op: "chdir", strs: [cwd] }];
}

/** A terminal: a new session with a pty whose master goes over the console socket. Otherwise the runtime's stdio, as it is. */
function stdio(proc: OciProcess, consoleFd: number | undefined): Op[] {
  if (!proc.terminal) return [];
  const size = proc.consoleSize;
  return [{ op: "setsid" }, { op: "console", ints: [consoleFd!, proc.user.uid, size?.height ?? 0, size?.width ?? 0] }];
}

/**
 * The five capability sets and the user. Capabilities survive the change of uid (keepcaps), then
 * the sets are set as asked; ambient ones are raised when permitted and inheritable allow it (the
 * kernel's rule). Without noNewPrivileges the filter goes first (it needs CAP_SYS_ADMIN then);
 * with it, last (lastLockdown), as runc does.
 */
function becomeProcessUser(proc: OciProcess, host: ProcessLock): Op[] {
  const caps = proc.capabilities ?? {};
  const mask = (names: string[] | undefined) => capabilityMask(names ?? []);
  const permitted = mask(caps.permitted);
  const inheritable = mask(caps.inheritable);
  const ambient = (caps.ambient ?? []).filter((c) => (permitted & inheritable & mask([c])) !== 0n);
  const filter: Op[] = host.seccomp && !proc.noNewPrivileges ? [{ op: "seccomp", ints: host.seccomp }] : [];
  return [
    ...filter,
    { op: "dropBounding", ints: [mask(caps.bounding), host.lastCap] },
    { op: "prctl", ints: [PR_SET_KEEPCAPS, 1, 0, 0] },
    { op: "setgroups", ints: proc.user.additionalGids ?? [] },
    { op: "setgid", ints: [proc.user.gid] },
    { op: "setuid", ints: [proc.user.uid] },
    { op: "capset", ints: [mask(caps.effective), permitted, inheritable] },
    ...ambient.map((c): Op => ({ op: "prctl", ints: [PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAPABILITY_NAMES.indexOf(c as (typeof CAPABILITY_NAMES)[number]), 0] })),
  ];
}

/** noNewPrivileges, and then its filter, as close to execve as can be: fewer calls for the filter to allow. */
function lastLockdown(proc: OciProcess, host: ProcessLock): Op[] {
  if (!proc.noNewPrivileges) return [];
  return [{ op: "noNewPrivs" }, ...(host.seccomp ? [{ op: "seccomp", ints: host.seccomp } satisfies Op] : [])];
}

function searchPath(proc: OciProcess): string {
  return (proc.env ?? []).find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
}

/** The program is looked for before create returns, so that a missing one is create's error (as runc). */
function findExec(proc: OciProcess): Op {
  return { op: "findExec", strs: [searchPath(proc), proc.args[0]!] };
}

function execOp(proc: OciProcess): Op {
  const env = proc.env ?? [];
  return { op: "exec", ints: [proc.args.length, env.length], strs: [searchPath(proc), ...proc.args, ...env] };
}
