// cbox's own failures: one line, an exit code as docker gives them, printed in one place (main.ts).
export const ExitCode = { cboxError: 125, cannotExecute: 126, notFound: 127 } as const;

export class CboxError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.cboxError,
  ) {
    super(message);
  }
}

/** A system call that failed, with its errno (from the C shim, which returns -errno). */
export class ErrnoError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${describeErrno(errno)}`);
  }
}

/** r, or an ErrnoError for call when r is -errno. */
export function checkErrno(call: string, r: number): number {
  if (r < 0) throw new ErrnoError(call, -r);
  return r;
}

// Linux errno values (the same on x86_64 and arm64: asm-generic). A table, not node:os, whose
// import costs ~4 ms of start-up.
const errnos: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  7: ["E2BIG", "argument list too long"],
  8: ["ENOEXEC", "exec format error"],
  9: ["EBADF", "bad file descriptor"],
  10: ["ECHILD", "no child processes"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  18: ["EXDEV", "invalid cross-device link"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "is a directory"],
  22: ["EINVAL", "invalid argument"],
  24: ["EMFILE", "too many open files"],
  26: ["ETXTBSY", "text file busy"],
  28: ["ENOSPC", "no space left on device"],
  30: ["EROFS", "read-only file system"],
  34: ["ERANGE", "numerical result out of range"],
  36: ["ENAMETOOLONG", "file name too long"],
  38: ["ENOSYS", "function not implemented"],
  39: ["ENOTEMPTY", "directory not empty"],
  40: ["ELOOP", "too many levels of symbolic links"],
  87: ["EUSERS", "too many users"],
  93: ["EPROTONOSUPPORT", "protocol not supported"],
  95: ["EOPNOTSUPP", "operation not supported"],
  97: ["EAFNOSUPPORT", "address family not supported by protocol"],
  98: ["EADDRINUSE", "address already in use"],
  99: ["EADDRNOTAVAIL", "cannot assign requested address"],
  100: ["ENETDOWN", "network is down"],
  101: ["ENETUNREACH", "network is unreachable"],
  105: ["ENOBUFS", "no buffer space available"],
  107: ["ENOTCONN", "transport endpoint is not connected"],
  113: ["EHOSTUNREACH", "no route to host"],
  122: ["EDQUOT", "disk quota exceeded"],
  110: ["ETIMEDOUT", "connection timed out"],
};

/** By name, made on first use: every command loads this module, few print a system error. */
let byCode: Map<string, string> | undefined;

/** "permission denied" for 13; "errno N" for values without a text here. */
export function describeErrno(errno: number): string {
  return errnos[Math.abs(errno)]?.[1] ?? `errno ${Math.abs(errno)}`;
}

export function errnoName(errno: number): string {
  return errnos[Math.abs(errno)]?.[0] ?? `errno ${Math.abs(errno)}`;
}

/** The message of a Node/Bun system error without its stack: "EACCES: permission denied, open 'x'". */
export function systemErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  byCode ??= new Map(Object.values(errnos));
  const text = e?.code ? byCode.get(e.code) : undefined;
  if (text) return `${text}${e.path ? `: ${e.path}` : ""}`;
  return e instanceof Error ? e.message : String(err);
}
