// The container's filesystem: an overlay root, the kernel filesystems, /dev, and pivot_root.
// Everything here is mounted inside the container's own mount namespace, so it all goes away
// with the container; nothing is mounted on the host.
import { CboxError } from "../errors.ts";
import type { Op } from "../sys/ops.ts";
import type { CgroupView } from "./cgroups/mount-plan.ts";

export const MountFlag = {
  rdonly: 1,
  nosuid: 2,
  nodev: 4,
  noexec: 8,
  remount: 32,
  bind: 4096,
  rec: 16384,
  private: 1 << 18,
  strictatime: 1 << 24,
} as const;

const MNT_DETACH = 2;
/** mount(2) copies one page of options. */
const MOUNT_DATA_MAX = 4096;
const MOUNT_ATTR_RDONLY = 1;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

const { rdonly, nosuid, nodev, noexec, bind, strictatime } = MountFlag;

export function mount(src: string, target: string, fstype: string, flags: number, data = ""): Op {
  return { op: "mount", ints: [flags], strs: [src, target, fstype, data] };
}

export function mkdir(path: string, mode = 0o755): Op {
  return { op: "mkdir", ints: [mode, 1], strs: [path] };
}

/** Makes every mount private before anything is mounted, so nothing propagates to the host. */
export function privatePropagation(): Op {
  return mount("", "/", "", MountFlag.rec | MountFlag.private);
}

export interface OverlayDirs {
  /** Topmost first. */
  lower: string[];
  upper: string;
  work: string;
  /**
   * No sync of the upper layer, ever (overlayfs' volatile, Linux 5.10): for a layer thrown away
   * when the container ends (--rm), whose sync at unmount cost ~0.4 ms of each start (measured).
   */
  volatile?: boolean;
}

/** Paths overlayfs options cannot carry (it splits on "," and ":"), or "" when fine. */
export function overlayPathProblem(path: string): string {
  return /[,:\n]/.test(path) ? `overlayfs cannot use a path with ',' or ':' in it: ${path}` : "";
}

export function overlayRoot(target: string, dirs: OverlayDirs, inUserNamespace: boolean): Op[] {
  const data = [`lowerdir=${dirs.lower.join(":")}`, `upperdir=${dirs.upper}`, `workdir=${dirs.work}`];
  // In a user namespace trusted.* xattrs are out of reach: overlayfs keeps its own in user.*
  if (inUserNamespace) data.push("userxattr");
  if (dirs.volatile) data.push("volatile");
  const bytes = Buffer.byteLength(data.join(","));
  if (bytes >= MOUNT_DATA_MAX) {
    throw new CboxError(`the image has too many layers (${dirs.lower.length}) for one overlay mount: its options take ${bytes} bytes, the kernel takes ${MOUNT_DATA_MAX - 1}`);
  }
  return [mount("overlay", target, "overlay", 0, data.join(","))];
}

/** Where every container has the kernel's file systems mounted (kernelFilesystems, devFilesystem): not its own files. */
export const KERNEL_MOUNT_POINTS = ["/proc", "/sys", "/dev"];

/** /sys is read-only unless --privileged. */
/**
 * sysfs belongs to a network namespace: a user namespace may mount it only for a network
 * namespace it owns. A rootless container on the host's network gets the host's /sys bound
 * instead (as runc and podman do).
 */
export function kernelFilesystems(root: string, opts: { sysWritable: boolean; sysFromHost?: boolean }): Op[] {
  const sysFlags = (opts.sysWritable ? 0 : rdonly) | nosuid | nodev | noexec;
  const sys = opts.sysFromHost
    ? [mount("/sys", `${root}/sys`, "", bind | MountFlag.rec), mount("", `${root}/sys`, "", bind | MountFlag.remount | sysFlags)]
    : [mount("sysfs", `${root}/sys`, "sysfs", sysFlags)];
  return [mkdir(`${root}/proc`), mount("proc", `${root}/proc`, "proc", nosuid | nodev | noexec), mkdir(`${root}/sys`), ...sys];
}

/**
 * /sys/fs/cgroup as docker shows it, mounted after kernelFilesystems and in the container's cgroup
 * namespace, so that every mount's root is the container's own cgroup. cgroup2 goes on it
 * directly; for v1 a tmpfs holds a folder per hierarchy and docker's links (cpu -> cpu,cpuacct).
 * It goes over whatever /sys has there, the host's mounts too when /sys is the host's: the
 * kernel refuses cgroup2 right on the host's cgroup2 (EBUSY: the same filesystem on its own
 * root), so an empty tmpfs goes between. Read-only unless writable (docker's --privileged).
 */
export function cgroupFilesystem(root: string, view: CgroupView, opts: { writable: boolean; sysFromHost: boolean }): Op[] {
  const dir = `${root}/sys/fs/cgroup`;
  const flags = (opts.writable ? 0 : rdonly) | nosuid | nodev | noexec;
  switch (view.version) {
    case 0:
      return [];
    case 2:
      return [
        ...(opts.sysFromHost ? [mount("tmpfs", dir, "tmpfs", rdonly | nosuid | nodev | noexec, "size=0,mode=755")] : []),
        mount("cgroup2", dir, "cgroup2", flags),
      ];
    case 1:
      return [
        mount("tmpfs", dir, "tmpfs", nosuid | nodev | noexec, "mode=755"),
        ...view.folders.flatMap((f) => [mkdir(`${dir}/${f.name}`), mount("cgroup", `${dir}/${f.name}`, "cgroup", flags, f.options)]),
        ...view.folders.flatMap((f) => f.links.map((link) => symlink(f.name, `${dir}/${link}`))),
        ...(opts.writable ? [] : [mount("", dir, "", bind | MountFlag.remount | flags)]),
      ];
  }
}

/** What runc and docker hide: kernel memory, keys, timers and hardware a container has no business with. */
export const MASKED_PATHS = [
  "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
  "/sys/firmware", "/sys/devices/virtual/powercap",
];

/** Kernel settings a container may read but not change. */
export const READ_ONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** A /proc or /sys path as this kernel has it (kernels built without one lack it). */
export interface KernelPath {
  path: string;
  isDir: boolean;
}

/** A file is covered by /dev/null, a folder by an empty read-only tmpfs. Call after devFilesystem. */
export function maskPaths(root: string, paths: KernelPath[]): Op[] {
  return paths.map(({ path, isDir }) =>
    isDir ? mount("tmpfs", `${root}${path}`, "tmpfs", rdonly | nosuid | nodev | noexec, "size=0") : mount(`${root}/dev/null`, `${root}${path}`, "", bind),
  );
}

/** Bound onto themselves, then the bind made read-only (the flags proc was mounted with kept). */
export function readOnlyPaths(root: string, paths: KernelPath[]): Op[] {
  return paths.flatMap(({ path }) => [
    mount(`${root}${path}`, `${root}${path}`, "", bind | MountFlag.rec),
    mount("", `${root}${path}`, "", bind | MountFlag.remount | rdonly | nosuid | nodev | noexec),
  ]);
}

/** --read-only: the root's own mount; volumes, tmpfs and /etc/hosts and friends stay as they are. */
export function readOnlyRoot(): Op {
  return mount("", "/", "", bind | MountFlag.remount | rdonly);
}

export interface TmpfsMount {
  target: string;
  /** MS_* flags. */
  flags: number;
  /** size=, mode=, uid=, gid=, nr_inodes= */
  data: string;
}

/** After pivot_root, so that the target resolves inside the container. */
export function tmpfsMount(t: TmpfsMount): Op[] {
  return [...mkdirAll(t.target), mount("tmpfs", t.target, "tmpfs", t.flags, t.data)];
}

const devices: { name: string; major: number; minor: number }[] = [
  { name: "null", major: 1, minor: 3 },
  { name: "zero", major: 1, minor: 5 },
  { name: "full", major: 1, minor: 7 },
  { name: "random", major: 1, minor: 8 },
  { name: "urandom", major: 1, minor: 9 },
  { name: "tty", major: 5, minor: 0 },
];

export interface DevOptions {
  /** Device nodes need CAP_MKNOD in the initial user namespace; otherwise bind the host's. */
  canMknod: boolean;
  /** gid 5 (tty) exists inside, so devpts can give new ptys that group. */
  ttyGroupMapped: boolean;
  /** /dev/shm's size in bytes; 64 MiB when absent. */
  shmSize?: number;
  /** A /dev/shm instead of a new tmpfs: a path to bind (the host's), or a mount tree open at an fd (another container's). */
  shm?: { bind: string } | { treeFd: number };
}

export function devFilesystem(root: string, opts: DevOptions): Op[] {
  const dev = `${root}/dev`;
  const ops: Op[] = [mkdir(dev), mount("tmpfs", dev, "tmpfs", nosuid | strictatime, "mode=755,size=65536k")];
  for (const d of devices) {
    const path = `${dev}/${d.name}`;
    if (opts.canMknod) {
      ops.push({ op: "mknod", ints: [S_IFCHR | 0o666, d.major, d.minor], strs: [path] });
    } else {
      ops.push({ op: "touch", ints: [0o666], strs: [path] }, mount(`/dev/${d.name}`, path, "", bind));
    }
  }
  const ptsOptions = ["newinstance", "ptmxmode=0666", "mode=0620", ...(opts.ttyGroupMapped ? ["gid=5"] : [])];
  ops.push(
    mkdir(`${dev}/pts`),
    mount("devpts", `${dev}/pts`, "devpts", nosuid | noexec, ptsOptions.join(",")),
    symlink("pts/ptmx", `${dev}/ptmx`),
    mkdir(`${dev}/shm`, 0o1777),
    opts.shm && "treeFd" in opts.shm
      ? { op: "attachTree", ints: [opts.shm.treeFd], strs: [`${dev}/shm`] }
      : opts.shm
        ? mount(opts.shm.bind, `${dev}/shm`, "", bind)
        : mount("shm", `${dev}/shm`, "tmpfs", nosuid | nodev | noexec, `mode=1777,size=${opts.shmSize ?? 65536 * 1024}`),
    mkdir(`${dev}/mqueue`),
    mount("mqueue", `${dev}/mqueue`, "mqueue", nosuid | nodev | noexec),
    symlink("/proc/self/fd", `${dev}/fd`),
    symlink("/proc/self/fd/0", `${dev}/stdin`),
    symlink("/proc/self/fd/1", `${dev}/stdout`),
    symlink("/proc/self/fd/2", `${dev}/stderr`),
  );
  return ops;
}

/** A host device node given to the container: where it goes under the root, and what it is. */
export interface HostDeviceNode {
  host: string;
  path: string;
  type: "c" | "b";
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

/** Host devices in the container's /dev: made as the host's are, or the host's node bound there. */
export function hostDeviceNodes(root: string, nodes: HostDeviceNode[], canMknod: boolean): Op[] {
  return nodes.flatMap((d) => {
    const path = `${root}${d.path}`;
    const parents = mkdirAll(d.path.slice(0, d.path.lastIndexOf("/")), root).slice(1); // root/dev is there
    if (!canMknod) return [...parents, { op: "touch", ints: [0o600], strs: [path] } satisfies Op, mount(d.host, path, "", bind)];
    return [
      ...parents,
      { op: "mknod", ints: [(d.type === "b" ? S_IFBLK : S_IFCHR) | d.mode, d.major, d.minor], strs: [path] } satisfies Op,
      { op: "chown", ints: [d.uid, d.gid], strs: [path] } satisfies Op,
    ];
  });
}

function symlink(target: string, path: string): Op {
  return { op: "symlink", strs: [target, path] };
}

/** Binds a host file over a path in the new root (for /etc/hosts and friends), creating it. */
export function bindFile(hostPath: string, target: string): Op[] {
  return [{ op: "touch", ints: [0o644], strs: [target] }, mount(hostPath, target, "", bind)];
}

const OLD_ROOT = ".cbox-oldroot";

/** pivot_root into root, then detach the old root and remove its folder. */
export function pivotRoot(root: string): Op[] {
  return [
    mkdir(`${root}/${OLD_ROOT}`, 0o700),
    { op: "pivotRoot", strs: [root, OLD_ROOT] },
    { op: "umount", ints: [MNT_DETACH], strs: [`/${OLD_ROOT}`] },
    { op: "rmdir", strs: [`/${OLD_ROOT}`] },
  ];
}


/**
 * pivot_root with the old root stacked on the new one and detached at once: no folder is made in
 * the root (a bundle's root may not be writable to the container's user namespace).
 */
export function pivotRootInPlace(root: string): Op {
  return { op: "pivotRoot", strs: [root, "."] };
}

/** mkdir of every component of an absolute path (under root, a host folder, when given), each allowed to exist already. */
export function mkdirAll(path: string, root = ""): Op[] {
  const parts = path.split("/").filter(Boolean);
  return parts.map((_, i) => mkdir(`${root}/${parts.slice(0, i + 1).join("/")}`));
}

export interface VolumeMount {
  source: string;
  target: string;
  readonly: boolean;
  isFile: boolean;
}

/**
 * A volume in two steps. Before pivot_root, while host paths are reachable: a detached copy of
 * the source's mount tree is put on fd. After pivot_root, so that the target path resolves
 * inside the container (an image's symlinks cannot lead it onto the host): the target is made
 * and the tree attached there.
 */
export function cloneVolume(v: VolumeMount, fd: number): Op {
  return { op: "cloneTree", ints: [v.readonly ? MOUNT_ATTR_RDONLY : 0, fd], strs: [v.source] };
}

export function attachVolume(v: VolumeMount, fd: number): Op[] {
  const parent = v.target.slice(0, v.target.lastIndexOf("/"));
  const made: Op[] = v.isFile ? [...mkdirAll(parent), { op: "touch", ints: [0o644], strs: [v.target] }] : mkdirAll(v.target);
  return [...made, { op: "attachTree", ints: [fd], strs: [v.target] }];
}
