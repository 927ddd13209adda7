// cbox's own failures: one line, an exit code as docker gives them, printed in one place (main.ts).
import { constants } from "node:os";

export const ExitCode = { cboxError: 125, cannotExecute: 126, notFound: 127 } as const;

export class CboxError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.cboxError,
  ) {
    super(message);
  }
}

const errnoText: Record<string, string> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ESRCH: "no such process",
  EINTR: "interrupted system call",
  EIO: "input/output error",
  E2BIG: "argument list too long",
  ENOEXEC: "exec format error",
  EBADF: "bad file descriptor",
  EAGAIN: "resource temporarily unavailable",
  ENOMEM: "cannot allocate memory",
  EACCES: "permission denied",
  EBUSY: "device or resource busy",
  EEXIST: "file exists",
  ENODEV: "no such device",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  EINVAL: "invalid argument",
  EMFILE: "too many open files",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many levels of symbolic links",
  ENOSYS: "function not implemented",
  EOPNOTSUPP: "operation not supported",
  EUSERS: "too many users",
  ETXTBSY: "text file busy",
};

// Several names share a number (EAGAIN/EWOULDBLOCK): keep the first, or the one we have text for.
const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) {
  if (!errnoNames.has(num) || name in errnoText) errnoNames.set(num, name);
}

/** "permission denied" for 13; the symbolic name for errnos without a text here. */
export function describeErrno(errno: number): string {
  const name = errnoNames.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
  return errnoText[name] ?? name;
}

export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}

/** The message of a Node/Bun system error without its stack: "EACCES: permission denied, open 'x'". */
export function systemErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code && errnoText[e.code]) return `${errnoText[e.code]}${e.path ? `: ${e.path}` : ""}`;
  return e instanceof Error ? e.message : String(err);
}
