// A container's resource limits in the kernel's units, and how they become control files.

export interface Limits {
  /** Bytes. */
  memory?: number;
  /** Memory plus swap, bytes; -1: swap is not limited. */
  memorySwap?: number;
  /** Bytes the kernel tries to leave the container when memory is short (a soft limit). */
  memoryReservation?: number;
  /** CFS bandwidth: microseconds of CPU time per period (--cpus, --cpu-quota); -1: no quota. */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** The flag that set the quota and period, for errors (--cpus when absent). */
  cpuBandwidthBy?: "--cpu-quota" | "--cpu-period";
  /** Relative weight, 2..262144 (v1's cpu.shares, docker's --cpu-shares). */
  cpuShares?: number;
  /** A CPU list such as "0-1,3". */
  cpusetCpus?: string;
  pidsLimit?: number;
}

/** The flag that sets each limit, for the one-line errors. */
export const LIMIT_FLAGS: Record<Exclude<keyof Limits, "cpuBandwidthBy">, string> = {
  memory: "--memory",
  memorySwap: "--memory-swap",
  memoryReservation: "--memory-reservation",
  cpuQuota: "--cpus",
  cpuPeriod: "--cpus",
  cpuShares: "--cpu-shares",
  cpusetCpus: "--cpuset-cpus",
  pidsLimit: "--pids-limit",
};

export const CPU_PERIOD_US = 100_000;

/** One write into a control file, and the flag it comes from. */
export interface Setting {
  file: string;
  value: string;
  flag: string;
}

/** The controllers a container's limits need. */
export type Controller = "memory" | "cpu" | "cpuset" | "pids";

export function hasLimits(limits: Limits): boolean {
  return Object.values(limits).some((v) => v !== undefined);
}

const CONTROLLER_OF: Record<Exclude<keyof Limits, "cpuBandwidthBy">, Controller> = {
  memory: "memory",
  memorySwap: "memory",
  memoryReservation: "memory",
  cpuQuota: "cpu",
  cpuPeriod: "cpu",
  cpuShares: "cpu",
  cpusetCpus: "cpuset",
  pidsLimit: "pids",
};

/** The limits that are set, each with its controller and flag, in a fixed order. */
export function limitsSet(limits: Limits): { controller: Controller; flag: string }[] {
  return (Object.keys(CONTROLLER_OF) as (keyof typeof CONTROLLER_OF)[])
    .filter((k) => limits[k] !== undefined)
    .map((k) => ({ controller: CONTROLLER_OF[k], flag: k === "cpuQuota" || k === "cpuPeriod" ? cpuFlag(limits) : LIMIT_FLAGS[k] }));
}

/** The flag that set the CPU quota: --cpus, or --cpu-quota / --cpu-period. */
export function cpuFlag(limits: Limits): string {
  return limits.cpuBandwidthBy ?? "--cpus";
}

export function controllersFor(limits: Limits): Controller[] {
  return [...new Set(limitsSet(limits).map((l) => l.controller))];
}

/** "32 MiB", "1.5 GiB", "100000 bytes". */
export function formatBinaryBytes(bytes: number): string {
  const units = ["GiB", "MiB", "KiB"];
  for (const [i, unit] of units.entries()) {
    const size = 1024 ** (3 - i);
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** Memory plus swap as docker means it: twice --memory unless --memory-swap says; -1 unlimited. */
export function memoryAndSwap(limits: Limits): number | undefined {
  if (limits.memory === undefined) return undefined;
  return limits.memorySwap ?? 2 * limits.memory;
}
