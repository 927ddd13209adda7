// The only module that touches bun:ffi. It loads the C shim, a shared library built with the
// executable, and binds its functions: a Bun process is multi-threaded, so namespaces and
// forking must happen in C (DESIGN.md).
import { dlopen, type FFIFunction } from "bun:ffi";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { hostAbi } from "./abi.ts";
// Built from c/*.c by scripts/build.ts for the executable's architecture (scripts/shim-lib.ts).
import shimLibraryFile from "../../dist/shim/cbox-shim.so" with { type: "file" };

export interface ShimSymbols {
  cbox_spawn(
    plan: Uint8Array,
    len: number,
    flags: number,
    signals: Int32Array,
    nsignals: number,
    stop: Int32Array,
    out: Int32Array,
  ): number;
  cbox_wait(pid: number): number;
}

export interface DetachSymbols {
  cbox_detach(plan: Uint8Array, len: number, flags: number, cfg: Int32Array, strs: Uint8Array, nstrs: number, out: Int32Array): number;
  cbox_wait(pid: number): number;
}

export interface ExtraSymbols {
  cbox_idmapped_mount(path: Uint8Array, usernsFd: number, target: Uint8Array): number;
  cbox_idmapped_clone(path: Uint8Array, usernsFd: number): number;
  cbox_umount(target: Uint8Array, flags: number): number;
  cbox_ioctl(fd: number, request: number, arg: Uint8Array): number;
  cbox_socketpair(out: Int32Array): number;
  cbox_pipe(out: Int32Array): number;
  cbox_recv_fd(sock: number): number;
  cbox_relay(cfg: Int32Array, keys: Uint8Array | null, nkeys: number, forward: Int32Array | null, nforward: number, ending: Int32Array | null, nending: number, result: Int32Array): number;
  cbox_attach_listen(path: Uint8Array): number;
  cbox_attach_connect(path: Uint8Array, request: number): number;
  cbox_flock(fd: number, op: number): number;
  cbox_setns(fd: number, type: number): number;
  cbox_lgetxattr(path: Uint8Array, name: Uint8Array, buf: Uint8Array, size: number): number;
}

export interface DeviceSymbols {
  cbox_bpf_prog_load(type: number, insns: Uint8Array, count: number, license: Uint8Array, log: Uint8Array | null, logSize: number): number;
  cbox_bpf_prog_attach(cgroupFd: number, progFd: number, type: number, flags: number): number;
}

export interface NetSymbols {
  cbox_netlink_open(nsFd: number, protocol: number): number;
  cbox_send(fd: number, buf: Uint8Array, len: number): number;
  cbox_recv(fd: number, buf: Uint8Array, len: number): number;
  cbox_recv_nowait(fd: number, buf: Uint8Array, len: number): number;
  cbox_close_in_child(fd: number): number;
  cbox_unix_connect(path: Uint8Array): number;
  cbox_shutdown_write(fd: number): number;
}

const O_RDWR = 0o2;
const O_CLOEXEC = 0o2000000;
const MFD_CLOEXEC = 1;
const MFD_EXEC = 0x10; // kernels with vm.memfd_noexec (6.3+) make memfds non-executable without it

let core: ShimSymbols | undefined;
let extra: ExtraSymbols | undefined;
let detach: DetachSymbols | undefined;
let device: DeviceSymbols | undefined;
let netSymbols: NetSymbols | undefined;

/** What every container start needs: spawning and waiting. */
export function shim(): ShimSymbols {
  core ??= bind({
    cbox_spawn: { args: ["ptr", "i32", "i32", "ptr", "i32", "ptr", "ptr"], returns: "i32" },
    cbox_wait: { args: ["i32"], returns: "i32" },
  }) as unknown as ShimSymbols;
  return core;
}

/** A detached container's start: the monitor, which clones the container itself. */
export function detachShim(): DetachSymbols {
  detach ??= bind({
    cbox_detach: { args: ["ptr", "i32", "i32", "ptr", "ptr", "i32", "ptr"], returns: "i32" },
    cbox_wait: { args: ["i32"], returns: "i32" },
  }) as unknown as DetachSymbols;
  return detach;
}

/** The rest: stdio relaying, terminals, idmapped mounts, locks, reading xattrs. */
export function extraShim(): ExtraSymbols {
  extra ??= bind({
    cbox_idmapped_mount: { args: ["ptr", "i32", "ptr"], returns: "i32" },
    cbox_idmapped_clone: { args: ["ptr", "i32"], returns: "i32" },
    cbox_umount: { args: ["ptr", "i32"], returns: "i32" },
    cbox_ioctl: { args: ["i32", "i32", "ptr"], returns: "i32" },
    cbox_socketpair: { args: ["ptr"], returns: "i32" },
    cbox_pipe: { args: ["ptr"], returns: "i32" },
    cbox_recv_fd: { args: ["i32"], returns: "i32" },
    cbox_relay: { args: ["ptr", "ptr", "i32", "ptr", "i32", "ptr", "i32", "ptr"], returns: "i32" },
    cbox_attach_listen: { args: ["ptr"], returns: "i32" },
    cbox_attach_connect: { args: ["ptr", "i32"], returns: "i32" },
    cbox_flock: { args: ["i32", "i32"], returns: "i32" },
    cbox_setns: { args: ["i32", "i32"], returns: "i32" },
    cbox_lgetxattr: { args: ["ptr", "ptr", "ptr", "i32"], returns: "i32" },
  }) as unknown as ExtraSymbols;
  return extra;
}

/** eBPF: a root container's device program on cgroup v2. */
export function deviceShim(): DeviceSymbols {
  device ??= bind({
    cbox_bpf_prog_load: { args: ["i32", "ptr", "i32", "ptr", "ptr", "i32"], returns: "i32" },
    cbox_bpf_prog_attach: { args: ["i32", "i32", "i32", "i32"], returns: "i32" },
  }) as unknown as DeviceSymbols;
  return device;
}

/** Sockets: netlink (a bridge network and its firewall) and slirp4netns's API socket (a rootless one). */
export function netShim(): NetSymbols {
  netSymbols ??= bind({
    cbox_netlink_open: { args: ["i32", "i32"], returns: "i32" },
    cbox_send: { args: ["i32", "ptr", "i32"], returns: "i32" },
    cbox_recv: { args: ["i32", "ptr", "i32"], returns: "i32" },
    cbox_recv_nowait: { args: ["i32", "ptr", "i32"], returns: "i32" },
    cbox_close_in_child: { args: ["i32"], returns: "i32" },
    cbox_unix_connect: { args: ["ptr"], returns: "i32" },
    cbox_shutdown_write: { args: ["i32"], returns: "i32" },
  }) as unknown as NetSymbols;
  return netSymbols;
}

/**
 * The library is written once per process into an unnamed file (a memfd, else an O_TMPFILE in a
 * folder that allows exec) and every group of symbols is bound from that one path, so all groups
 * share one copy of the library. The file stays open: its /proc/self/fd path is the library's name.
 */
let libraryPath: string | undefined;

function bind(symbols: Record<string, FFIFunction>): unknown {
  if (libraryPath) return dlopen(libraryPath, symbols).symbols;
  const bytes = readFileSync(shimLibraryFile);
  const tried: string[] = [];
  for (const [where, open] of unnamedFiles()) {
    let fd: number;
    try {
      fd = open();
    } catch {
      continue; // not available here: try the next place
    }
    try {
      writeSync(fd, bytes);
      const symbolsOf = dlopen(`/proc/self/fd/${fd}`, symbols).symbols;
      libraryPath = `/proc/self/fd/${fd}`;
      return symbolsOf;
    } catch (err) {
      closeSync(fd);
      tried.push(`${where} (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`);
    }
  }
  throw new CboxError(
    `cannot load cbox's C library: no executable memory file or temporary folder (tried ${tried.join(", ") || "memfd, $TMPDIR, /dev/shm, /tmp"}); set TMPDIR to a folder on a file system mounted without noexec`,
  );
}

/** Places for an unnamed, executable copy of the library, best first. */
function unnamedFiles(): [string, () => number][] {
  const dirs = [process.env.TMPDIR, process.env.XDG_RUNTIME_DIR, "/dev/shm", "/tmp"].filter((d): d is string => !!d);
  return [["memfd", memfd], ...dirs.map((dir): [string, () => number] => [dir, () => openUnnamedFile(dir)])];
}

/** An unnamed file in dir (O_TMPFILE, whose value differs by architecture), open for writing. */
export function openUnnamedFile(dir: string): number {
  return openSync(dir, hostAbi().O_TMPFILE | O_RDWR | O_CLOEXEC, 0o700);
}

function memfd(): number {
  const libc = dlopen("libc.so.6", { memfd_create: { args: ["ptr", "u32"], returns: "i32" } });
  try {
    const name = Buffer.from("cbox-shim\0");
    let fd = libc.symbols.memfd_create(name, MFD_CLOEXEC | MFD_EXEC);
    if (fd < 0) fd = libc.symbols.memfd_create(name, MFD_CLOEXEC); // before 6.3: MFD_EXEC is EINVAL
    if (fd < 0) throw new Error("memfd_create failed");
    return fd;
  } finally {
    libc.close();
  }
}
