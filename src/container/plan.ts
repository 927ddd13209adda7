// From a validated spec to the ordered setup ops the shim's child runs. Pure: no I/O.
import type { CgroupView } from "../linux/cgroups/mount-plan.ts";
import { attachVolume, bindFile, cgroupFilesystem, cloneVolume, devFilesystem, hostDeviceNodes, kernelFilesystems, maskPaths, mkdir, mkdirAll, overlayRoot, pivotRoot, privatePropagation, readOnlyPaths, readOnlyRoot, tmpfsMount, type KernelPath } from "../linux/mounts.ts";
import { CloneFlag, type NamespaceFd } from "../linux/namespaces.ts";
import type { Op } from "../sys/ops.ts";
import { DEFAULT_PATH } from "./default-path.ts";
import { sysctlFile } from "./sysctls.ts";
import type { ContainerSpec } from "./spec.ts";
import type { User } from "./user.ts";

/** Host-side folders of one container. */
export interface ContainerDirs {
  dir: string;
  /** The empty folder the overlay is mounted on, inside the container's mount namespace. */
  rootfs: string;
  upper: string;
  work: string;
  hostname: string;
  hosts: string;
  resolvConf: string;
  /** A detached container's output, in the CRI log format. */
  log: string;
  /** Written by a detached container's monitor when it has ended. */
  exit: string;
  /** A detached container's attach socket, which its monitor serves (monitor.c). */
  attach: string;
  /** Its entry in the store's live/ while it is not known to have ended (store.ts keeps it). */
  live: string;
}

/** What the host allows, decided once by the caller. */
export interface HostFacts {
  userNamespace: boolean;
  canMknod: boolean;
  ttyGroupMapped: boolean;
  setgroupsAllowed: boolean;
  /** What the container's /sys/fs/cgroup holds, from the host's cgroup layout. */
  cgroups: CgroupView;
}

const SIGKILL = 9;

/** What the container's side does, as plain data for the plan. */
export type StdioPlan =
  | { kind: "null" }
  | { kind: "inherit" }
  | { kind: "pipe"; readFd: number }
  | { kind: "tty"; socket: number; rows: number; cols: number };

const O_RDONLY = 0;

/** The container's steps, run as root inside after pivot_root; uid will own the pty. */
export function stdioOps(plan: StdioPlan, uid: number): Op[] {
  // A session of its own: the container never shares cbox's terminal as controlling terminal.
  const setsid: Op = { op: "setsid" };
  switch (plan.kind) {
    case "null":
      return [setsid, { op: "openDup", ints: [O_RDONLY, 0], strs: ["/dev/null"] }];
    case "inherit":
      return [setsid];
    case "pipe":
      return [setsid, { op: "dup2", ints: [plan.readFd, 0] }];
    case "tty":
      return [setsid, { op: "console", ints: [plan.socket, uid, plan.rows, plan.cols] }];
  }
}

/** What the process keeps when it execs, decided by the caller (security.ts, seccomp/). */
export interface Lockdown {
  /** Bounding set, and permitted and effective sets when the user is root. */
  capabilities: bigint;
  /** The kernel's highest capability: every one above what is kept is dropped. */
  lastCap: number;
  noNewPrivileges: boolean;
  /** The filter's instructions, packed; none: unconfined. */
  seccomp?: BigInt64Array;
}

/**
 * Becoming the container's user, with what it may keep. Without no_new_privs a filter needs
 * CAP_SYS_ADMIN, so it goes in before the ids change and the capabilities go (as runc does);
 * the bounding set is cut while CAP_SETPCAP is still held; a change to a non-root uid clears
 * the permitted and effective sets, as the kernel does, and nothing is ambient or inheritable.
 */
export function becomeUser(user: User, setgroupsAllowed: boolean, lock: Lockdown): Op[] {
  const filter: Op[] = lock.seccomp ? [{ op: "seccomp", ints: lock.seccomp }] : [];
  const caps = user.uid === 0 ? lock.capabilities : 0n;
  return [
    ...(lock.noNewPrivileges ? [] : filter),
    { op: "dropBounding", ints: [lock.capabilities, lock.lastCap] },
    ...(setgroupsAllowed ? [{ op: "setgroups", ints: user.groups } satisfies Op] : []),
    { op: "setgid", ints: [user.gid] },
    { op: "setuid", ints: [user.uid] },
    { op: "capset", ints: [caps, caps, 0] },
    ...(lock.noNewPrivileges ? [{ op: "noNewPrivs" } satisfies Op, ...filter] : []),
  ];
}

/** What cbox prepared on the host for the container's first process. */
export interface Prepared {
  stdio: StdioPlan;
  /** The overlay's lower layers, topmost first: the image's folders, their idmapped mounts, or a shifted copy. */
  lowerdirs: string[];
  /** The folder lowerdirs are relative to, entered before the overlay is mounted. */
  lowerBase?: string;
  /** Free fd numbers for the volumes' mount trees, one per volume. */
  volumeFds: number[];
  lockdown: Lockdown;
  /** /proc and /sys paths to hide, and to make read-only, as this kernel has them. */
  masked: KernelPath[];
  readOnly: KernelPath[];
  /** Namespaces the child joins (another container's net and ipc): each file opened onto fd, then entered. */
  joins?: { path: string; type: number; fd: number }[];
  /** A shared IPC namespace's /dev/shm: the host's to bind, or another container's to copy from its mount namespace. */
  shm?: SharedShm;
}

/**
 * Another container's /dev/shm lives in its mount namespace, and a mount can be copied only from
 * the namespace one is in: the child enters that one (its own open at ownFd), copies the mount
 * to treeFd, and comes back.
 */
export type SharedShm = { bind: string } | { mountNamespace: string; ownFd: number; theirFd: number; treeFd: number };

/** selfEntry: the files the process writes "0" into to enter its cgroup itself (ContainerCgroup.selfEntry). */
export function buildPlan(spec: ContainerSpec, dirs: ContainerDirs, host: HostFacts, prepared: Prepared, selfEntry: string[] = []): Op[] {
  const root = dirs.rootfs;
  const fds = prepared.volumeFds;
  const confined = !spec.security.privileged;
  const hostNetwork = spec.network.mode === "host";
  const ownNetwork = !hostNetwork && spec.network.mode !== "container";
  return [
    // --init: PID 1 keeps its copy of cbox's memory for life, so nothing inside may read it
    // through /proc. Without it the child shares cbox's memory (CLONE_VM, where the flag lives)
    // until execve, alone in namespaces nothing else has joined yet.
    ...(spec.init ? [{ op: "dumpable", ints: [0] } satisfies Op] : []),
    // If cbox dies, the container dies with it; the next cbox command removes what is left.
    { op: "pdeathsig", ints: [SIGKILL] },
    ...enterCgroupsItself(selfEntry),
    ...(prepared.joins ?? []).flatMap((j): Op[] => [{ op: "openDup", ints: [O_RDONLY, j.fd], strs: [j.path] }, { op: "setns", ints: [j.fd, j.type] }]),
    ...copyOtherShm(prepared.shm),
    // Only now, in its cgroup, so that the container sees that cgroup as its root.
    { op: "unshare", ints: [CloneFlag.newcgroup] },
    ...(host.userNamespace ? becomeNamespaceRoot(host.setgroupsAllowed) : []),
    { op: "umask", ints: [0] },
    ...mountRoot(dirs, prepared.lowerdirs, prepared.lowerBase, host.userNamespace, spec.remove),
    ...kernelFilesystems(root, { sysWritable: !confined, sysFromHost: hostNetwork && host.userNamespace }),
    ...kernelSettings(root, spec),
    ...cgroupFilesystem(root, host.cgroups, { writable: !confined, sysFromHost: hostNetwork && host.userNamespace }),
    ...devFilesystem(root, { canMknod: host.canMknod, ttyGroupMapped: host.ttyGroupMapped, shmSize: spec.shmSize, shm: shmMount(prepared.shm) }),
    ...hostDeviceNodes(root, spec.devices ?? [], host.canMknod),
    ...(confined ? [...maskPaths(root, prepared.masked), ...readOnlyPaths(root, prepared.readOnly)] : []),
    mkdir(`${root}/etc`),
    ...bindFile(dirs.hostname, `${root}/etc/hostname`),
    ...bindFile(dirs.hosts, `${root}/etc/hosts`),
    ...bindFile(dirs.resolvConf, `${root}/etc/resolv.conf`),
    ...(spec.namespaces?.uts ? [] : [{ op: "sethostname", strs: [spec.hostname] } satisfies Op]),
    ...(ownNetwork ? [{ op: "loopbackUp" } satisfies Op] : []),
    ...spec.volumes.map((v, i) => cloneVolume(v, fds[i]!)),
    ...pivotRoot(root),
    ...spec.volumes.flatMap((v, i) => attachVolume(v, fds[i]!)),
    ...spec.tmpfs.flatMap(tmpfsMount),
    { op: "umask", ints: [0o022] },
    ...workdirOps(spec.workdir),
    ...(spec.security.readOnly ? [readOnlyRoot()] : []),
    ...stdioOps(prepared.stdio, spec.user.uid),
    ...processLimits(spec),
    ...becomeUser(spec.user, host.setgroupsAllowed, prepared.lockdown),
    { op: "closeFrom", ints: [3] },
    // Its command line (ps, /proc/1/cmdline) is "init" and the command, not cbox's on the host.
    ...(spec.init ? [{ op: "init", strs: [["init", ...spec.command].join(" ")] } satisfies Op] : []),
    execOp(spec.command, spec.env),
  ];
}

/** A process to start in a running container (cbox exec). */
export interface ExecSpec {
  namespaces: NamespaceFd[];
  user: User;
  workdir: string;
  command: string[];
  env: string[];
  setgroupsAllowed: boolean;
  lockdown: Lockdown;
}

/** selfEntry: as buildPlan's, the container's cgroups (v1), which the process enters before it joins anything. */
export function buildExecPlan(exec: ExecSpec, stdio: StdioPlan, selfEntry: string[] = []): Op[] {
  return [
    // Before it joins: nothing inside may read this copy of cbox's memory through /proc.
    { op: "dumpable", ints: [0] },
    { op: "pdeathsig", ints: [SIGKILL] },
    ...enterCgroupsItself(selfEntry),
    ...exec.namespaces.map((ns): Op => ({ op: "setns", ints: [ns.fd, ns.type] })),
    // A new PID namespace takes in only children: a child runs the command, while this process
    // stays outside, passes signals on and exits with the command's status.
    { op: "init" },
    ...stdioOps(stdio, exec.user.uid),
    { op: "chdir", strs: [exec.workdir] },
    ...becomeUser(exec.user, exec.setgroupsAllowed, exec.lockdown),
    { op: "closeFrom", ints: [3] },
    execOp(exec.command, exec.env),
  ];
}

function copyOtherShm(shm: SharedShm | undefined): Op[] {
  if (!shm || "bind" in shm) return [];
  return [
    { op: "openDup", ints: [O_RDONLY, shm.ownFd], strs: ["/proc/self/ns/mnt"] },
    { op: "openDup", ints: [O_RDONLY, shm.theirFd], strs: [shm.mountNamespace] },
    { op: "setns", ints: [shm.theirFd, CloneFlag.newns] },
    { op: "cloneTree", ints: [0, shm.treeFd], strs: ["/dev/shm"] },
    { op: "setns", ints: [shm.ownFd, CloneFlag.newns] },
  ];
}

function shmMount(shm: SharedShm | undefined): { bind: string } | { treeFd: number } | undefined {
  return !shm ? undefined : "bind" in shm ? shm : { treeFd: shm.treeFd };
}

/** --sysctl and --domainname: written into the container's own /proc/sys before it is made read-only. */
function kernelSettings(root: string, spec: ContainerSpec): Op[] {
  const settings = Object.entries(spec.sysctls ?? {});
  if (spec.domainname !== undefined) settings.push(["kernel.domainname", spec.domainname]);
  return settings.map(([name, value]): Op => ({ op: "write", strs: [`${root}${sysctlFile(name)}`, value] }));
}

/** --ulimit and --oom-score-adj, set while the process is still root (inside). */
function processLimits(spec: ContainerSpec): Op[] {
  return [
    ...(spec.ulimits ?? []).map((u): Op => ({ op: "rlimit", ints: [u.resource, BigInt(u.soft), BigInt(u.hard)] })),
    ...(spec.oomScoreAdj !== undefined ? [{ op: "write", strs: ["/proc/self/oom_score_adj", String(spec.oomScoreAdj)] } satisfies Op] : []),
  ];
}

/** The process moves itself into each cgroup (v1): "0" into its tasks file (ContainerCgroup.selfEntry). */
function enterCgroupsItself(tasksFiles: string[]): Op[] {
  return tasksFiles.map((file) => ({ op: "write", strs: [file, "0"] }));
}

/**
 * A process cloned into a new user namespace keeps its host ids until it changes them: root's
 * (--userns=private) are not mapped inside, so files it made and permission checks it met
 * would be host root's. It takes the namespace's root ids before touching anything.
 */
export function becomeNamespaceRoot(setgroupsAllowed: boolean): Op[] {
  return [
    ...(setgroupsAllowed ? [{ op: "setgroups", ints: [0] } satisfies Op] : []),
    { op: "setgid", ints: [0] },
    { op: "setuid", ints: [0] },
  ];
}

/**
 * The container's root: its overlay mounted on its rootfs folder, nothing propagating to the host
 * (lower folders may be relative to lowerBase, entered first). volatile: an upper layer thrown away.
 */
export function mountRoot(dirs: ContainerDirs, lowerdirs: string[], lowerBase: string | undefined, userNamespace: boolean, volatile = false): Op[] {
  return [
    privatePropagation(),
    ...(lowerBase ? [{ op: "chdir", strs: [lowerBase] } satisfies Op] : []),
    ...overlayRoot(dirs.rootfs, { lower: lowerdirs, upper: dirs.upper, work: dirs.work, volatile }, userNamespace),
  ];
}

/** Docker creates a missing workdir; so do we, one component at a time. */
function workdirOps(workdir: string): Op[] {
  return [...mkdirAll(workdir), { op: "chdir", strs: [workdir] }];
}

export function execOp(command: string[], env: string[]): Op {
  const path = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  return { op: "exec", ints: [command.length, env.length], strs: [path, ...command, ...env] };
}

/**
 * A short text for an op, for the one-line error when it fails. Paths under the new root are
 * shown as the container sees them.
 */
export function describeOp(op: Op, root = ""): string {
  const s = (op.strs ?? []).map((str) => (root && str.startsWith(`${root}/`) ? str.slice(root.length) : str));
  switch (op.op) {
    case "mount":
      return s[2] ? `mount ${s[2]} on ${s[1]}` : s[0] ? `bind mount ${s[0]} on ${s[1]}` : `change propagation of ${s[1]}`;
    case "exec":
      return `exec ${s[1]}`;
    case "pivotRoot":
      return `pivot_root into ${s[0]}`;
    case "openDup":
      return `open ${s[0]}`;
    case "console":
      return "open a terminal on /dev/ptmx";
    case "dup2":
      return "set up stdin";
    case "cloneTree":
      return `open volume ${s[0]}`;
    case "attachTree":
      return `mount volume on ${s[0]}`;
    case "setns":
      return "join the container's namespaces";
    case "setuid":
    case "setgid":
    case "setgroups":
    case "umask":
    case "pdeathsig":
      return `${op.op}(${(op.ints ?? []).join(", ")})`;
    case "write":
      return `write ${JSON.stringify(s[1])} into ${s[0]}`;
    default:
      return s.length ? `${op.op} ${s.join(" ")}` : op.op;
  }
}
