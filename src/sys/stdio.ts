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

export function receiveFd(sock: number): number {
  return check("recvmsg", shim().cbox_recv_fd(sock));
}

export interface RelayFds {
  /** Copied into `to`; -1 for none. */
  in: number;
  to: number;
  /** Copied into `out`; -1 for none. */
  from: number;
  out: number;
  /** Whose window size follows SIGWINCH onto `to`; -1 for none. */
  sizeFrom: number;
  /** Sent to `to` when `in` ends; -1 closes `to` instead (then the relay owns `to`). */
  eof: number;
}

/** Copies bytes between cbox's stdio and the container's until process pid ends. */
export function relay(fds: RelayFds, pid: number): void {
  const args = new Int32Array([fds.in, fds.to, fds.from, fds.out, fds.sizeFrom, fds.eof]);
  check("relay", shim().cbox_relay(args, pid));
}
