// Resource limits (setrlimit): the kernel's numbers, and the limits this process has now.
import { readFileSync } from "node:fs";

/** The runtime spec's names (RLIMIT_NOFILE) for the kernel's resource numbers. */
export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** No limit: RLIM_INFINITY, as a signed 64-bit op argument. */
export const UNLIMITED = -1n;

/** The rows of /proc/self/limits, in the kernel's resource order. */
const LIMITS_ROWS = [
  "Max cpu time", "Max file size", "Max data size", "Max stack size", "Max core file size", "Max resident set",
  "Max processes", "Max open files", "Max locked memory", "Max address space", "Max file locks",
  "Max pending signals", "Max msgqueue size", "Max nice priority", "Max realtime priority", "Max realtime timeout",
];

/** This process's hard limit of a resource; UNLIMITED when it has none. */
export function ownHardLimit(resource: number, limitsText = readFileSync("/proc/self/limits", "utf8")): bigint {
  const row = limitsText.split("\n").find((line) => line.startsWith(`${LIMITS_ROWS[resource]} `));
  const hard = row?.slice(26).trim().split(/\s+/)[1];
  return hard === undefined || hard === "unlimited" ? UNLIMITED : BigInt(hard);
}
