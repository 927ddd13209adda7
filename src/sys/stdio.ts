// FFI wrappers for cbox's side of a container's stdio (stdio.c): terminals, pipes, fd passing,
// and the relay loop. Errors come back as -errno and are thrown as ErrnoError here.
import { checkErrno as check } from "../errors.ts";
import { Termios } from "../linux/termios.ts";
import { extraShim as shim } from "./shim.ts";

/** The terminal settings of fd, or undefined when fd is not a terminal. */
export function getTermios(fd: number): Uint8Array | undefined {
  const buf = new Uint8Array(Termios.size);
  return shim().cbox_ioctl(fd, Termios.TCGETS, buf) < 0 ? undefined : buf;
}

export function setTermios(fd: number, termios: Uint8Array): void {
  check("tcsetattr", shim().cbox_ioctl(fd, Termios.TCSETS, termios));
}

/** struct winsize of the terminal on fd, or undefined when fd is not a terminal. */
export function getWindowSize(fd: number): Uint8Array | undefined {
  const buf = new Uint8Array(8);
  return shim().cbox_ioctl(fd, Termios.TIOCGWINSZ, buf) < 0 ? undefined : buf;
}

/** [ours, the child's] ends of a unix socket pair. */
export function socketPair(): [number, number] {
  const out = new Int32Array(2);
  check("socketpair", shim().cbox_socketpair(out));
  return [out[0]!, out[1]!];
}

/** [read, write] ends of a pipe. */
export function pipe(): [number, number] {
  const out = new Int32Array(2);
  check("pipe", shim().cbox_pipe(out));
  return [out[0]!, out[1]!];
}

/** The fd sent on sock (SCM_RIGHTS). */
export function receiveFd(sock: number): number {
  return check("recvmsg", shim().cbox_recv_fd(sock));
}

/** The fd sent on sock, or undefined when the message carried none. */
export function receiveOptionalFd(sock: number): number | undefined {
  const r = shim().cbox_recv_fd(sock);
  return r === -ENODATA ? undefined : check("recvmsg", r);
}

const ENODATA = 61;
const encoder = new TextEncoder();
const cString = (s: string) => encoder.encode(`${s}\0`);

/** A container's attach socket (the monitor serves it: monitor.c), listening at path. */
export function listenForAttach(path: string): number {
  return check("bind", shim().cbox_attach_listen(cString(path)));
}

/** Connected to the attach socket at path, request sent: "a" to attach, "o" to take the container's stdin over as well. */
export function connectToAttach(path: string, request: "a" | "o"): number {
  return check("connect", shim().cbox_attach_connect(cString(path), request.charCodeAt(0)));
}

export interface RelayFds {
  /** Copied into `to`; -1 for none. */
  in: number;
  to: number;
  /** Copied into `out` (and err: an attach socket's stderr records); -1 for none. */
  from: number;
  out: number;
  err: number;
  /** Whose window size goes onto `to` at the start and at each SIGWINCH; -1 for none. */
  sizeFrom: number;
  /** Sent to `to` when `in` ends; -1 closes `to` instead (then the relay owns `to`). */
  eof: number;
}

export interface RelayUntil {
  /** A foreground container: `from` is its output, copied until this process ends. Without it, `from` is an attach socket, read until it ends. */
  pid?: number;
  /** The input that ends the relay (detach keys). */
  detachKeys?: Uint8Array;
  /** Signals sent to cbox that go on to pid (docker's sig-proxy). */
  proxy?: { pid: number; signals: number[] };
  /** Signals sent to cbox that end the relay. */
  ending?: number[];
}

export type RelayEnd =
  /** The container's side ended: its wait status when the attach socket said it, else -1. */
  | { how: "ended"; status: number }
  | { how: "detached" }
  | { how: "signal"; signal: number };

/** Copies bytes between cbox's stdio and the container's until the container's side ends (or the user detaches). */
export function relay(fds: RelayFds, until: RelayUntil): RelayEnd {
  const cfg = new Int32Array([fds.in, fds.to, fds.from, fds.out, fds.err, fds.sizeFrom, fds.eof, until.pid ?? -1, until.proxy?.pid ?? -1]);
  const keys = until.detachKeys?.length ? until.detachKeys : null;
  const forward = until.proxy?.signals.length ? new Int32Array(until.proxy.signals) : null;
  const ending = until.ending?.length ? new Int32Array(until.ending) : null;
  const result = new Int32Array(2);
  check("relay", shim().cbox_relay(cfg, keys, keys?.length ?? 0, forward, forward?.length ?? 0, ending, ending?.length ?? 0, result));
  if (result[0] === 1) return { how: "detached" };
  if (result[0] === 2) return { how: "signal", signal: result[1]! };
  return { how: "ended", status: result[1]! };
}
