// The only module that touches bun:ffi. It compiles the C shim with TinyCC (`cc`) at run time:
// a Bun process is multi-threaded, so namespaces and forking must happen in C (DESIGN.md).
import { cc, type FFIFunction } from "bun:ffi";
import { closeSync, openSync, writeSync } from "node:fs";
import bpf from "./c/bpf.c" with { type: "text" };
import child from "./c/child.c" with { type: "text" };
import host from "./c/host.c" with { type: "text" };
import monitor from "./c/monitor.c" with { type: "text" };
import mounts from "./c/mounts.c" with { type: "text" };
import net from "./c/net.c" with { type: "text" };
import plan from "./c/plan.c" with { type: "text" };
import prelude from "./c/prelude.c" with { type: "text" };
import security from "./c/security.c" with { type: "text" };
import spawn from "./c/spawn.c" with { type: "text" };
import stdio from "./c/stdio.c" with { type: "text" };

// Compilation units (see prelude.c). Each symbol bun:ffi binds costs a TinyCC trampoline and
// each line of source compile time (together ~5 ms of every start, measured), so the start of a
// plain container compiles only what it needs; -i, -t and --userns=private pay for the rest, and
// run -d compiles the core with the monitor instead of the core alone; a root container on
// cgroup v2 also compiles the device unit (bpf.c) to attach its device program.
const coreSource = [prelude, mounts, child, security, plan, spawn].join("\n");
const detachSource = [coreSource, monitor].join("\n");
const extraSource = [prelude, mounts, host, stdio].join("\n");
const deviceSource = [prelude, bpf].join("\n");
const netSource = [prelude, net].join("\n");

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
  cbox_umount(target: Uint8Array, flags: number): number;
  cbox_ioctl(fd: number, request: number, arg: Uint8Array): number;
  cbox_socketpair(out: Int32Array): number;
  cbox_pipe(out: Int32Array): number;
  cbox_recv_fd(sock: number): number;
  cbox_relay(fds: Int32Array, pid: number): number;
  cbox_flock(fd: number, op: number): number;
}

export interface DeviceSymbols {
  cbox_bpf_prog_load(type: number, insns: Uint8Array, count: number, license: Uint8Array, log: Uint8Array | null, logSize: number): number;
  cbox_bpf_prog_attach(cgroupFd: number, progFd: number, type: number, flags: number): number;
}

export interface NetSymbols {
  cbox_netlink_open(nsFd: number): number;
  cbox_send(fd: number, buf: Uint8Array, len: number): number;
  cbox_recv(fd: number, buf: Uint8Array, len: number): number;
  cbox_unix_connect(path: Uint8Array): number;
  cbox_shutdown_write(fd: number): number;
}

// O_TMPFILE | O_RDWR: an unnamed file, so nothing is left behind even if we are killed.
// TinyCC reads the source by path, and a `--compile` binary's embedded files have none.
const O_TMPFILE_RDWR = 0o20200000 | 0o2;

let core: ShimSymbols | undefined;
let extra: ExtraSymbols | undefined;
let detach: DetachSymbols | undefined;
let device: DeviceSymbols | undefined;
let netSymbols: NetSymbols | undefined;

/** What every container start needs: spawning and waiting. */
export function shim(): ShimSymbols {
  core ??= compile(coreSource, {
    cbox_spawn: { args: ["ptr", "i32", "i32", "ptr", "i32", "ptr", "ptr"], returns: "i32" },
    cbox_wait: { args: ["i32"], returns: "i32" },
  }) as unknown as ShimSymbols;
  return core;
}

/** A detached container's start: the monitor, which clones the container itself. */
export function detachShim(): DetachSymbols {
  detach ??= compile(detachSource, {
    cbox_detach: { args: ["ptr", "i32", "i32", "ptr", "ptr", "i32", "ptr"], returns: "i32" },
    cbox_wait: { args: ["i32"], returns: "i32" },
  }) as unknown as DetachSymbols;
  return detach;
}

/** The rest: stdio relaying, terminals, idmapped mounts, locks. */
export function extraShim(): ExtraSymbols {
  extra ??= compile(extraSource, {
    cbox_idmapped_mount: { args: ["ptr", "i32", "ptr"], returns: "i32" },
    cbox_umount: { args: ["ptr", "i32"], returns: "i32" },
    cbox_ioctl: { args: ["i32", "i32", "ptr"], returns: "i32" },
    cbox_socketpair: { args: ["ptr"], returns: "i32" },
    cbox_pipe: { args: ["ptr"], returns: "i32" },
    cbox_recv_fd: { args: ["i32"], returns: "i32" },
    cbox_relay: { args: ["ptr", "i32"], returns: "i32" },
    cbox_flock: { args: ["i32", "i32"], returns: "i32" },
  }) as unknown as ExtraSymbols;
  return extra;
}

/** eBPF: a root container's device program on cgroup v2. */
export function deviceShim(): DeviceSymbols {
  device ??= compile(deviceSource, {
    cbox_bpf_prog_load: { args: ["i32", "ptr", "i32", "ptr", "ptr", "i32"], returns: "i32" },
    cbox_bpf_prog_attach: { args: ["i32", "i32", "i32", "i32"], returns: "i32" },
  }) as unknown as DeviceSymbols;
  return device;
}

/** Sockets: rtnetlink (a bridge network) and slirp4netns's API socket (a rootless one). */
export function netShim(): NetSymbols {
  netSymbols ??= compile(netSource, {
    cbox_netlink_open: { args: ["i32"], returns: "i32" },
    cbox_send: { args: ["i32", "ptr", "i32"], returns: "i32" },
    cbox_recv: { args: ["i32", "ptr", "i32"], returns: "i32" },
    cbox_unix_connect: { args: ["ptr"], returns: "i32" },
    cbox_shutdown_write: { args: ["i32"], returns: "i32" },
  }) as unknown as NetSymbols;
  return netSymbols;
}

function compile(source: string, symbols: Record<string, FFIFunction>): unknown {
  const fd = openTmpfile();
  try {
    writeSync(fd, source);
    return cc({ source: `/proc/self/fd/${fd}`, symbols }).symbols;
  } finally {
    closeSync(fd);
  }
}

function openTmpfile(): number {
  for (const dir of [process.env.XDG_RUNTIME_DIR, "/dev/shm", "/tmp"]) {
    if (!dir) continue;
    try {
      return openSync(dir, O_TMPFILE_RDWR, 0o600);
    } catch {
      // tmpfs without O_TMPFILE support or not writable: try the next one
    }
  }
  throw new Error("cannot create a temporary file for the C shim in $XDG_RUNTIME_DIR, /dev/shm or /tmp");
}
