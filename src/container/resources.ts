// Resource flags (docker's meanings) into limits, and the cgroup that enforces them on this host.
import { readFileSync } from "node:fs";
import { CboxError } from "../errors.ts";
import type { ContainerCgroup } from "../linux/cgroups/cgroup.ts";
import { cgroupfs } from "../linux/cgroups/fs.ts";
import { delegatedCgroup, unifiedPath, type CgroupLayout } from "../linux/cgroups/detect.ts";
import { controllersFor, CPU_PERIOD_US, hasLimits, limitsSet, type Limits } from "../linux/cgroups/limits.ts";
import type { DeviceRule } from "../linux/cgroups/devices.ts";
import { v1Hierarchies, V1Cgroup } from "../linux/cgroups/v1.ts";
import { kernelDevices, v2Controllers, V2Cgroup } from "../linux/cgroups/v2.ts";

export interface ResourceOptions {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
}

/** Docker refuses less: a smaller limit kills a container before it starts. */
const MIN_MEMORY = 6 * 1024 * 1024;
const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Checks every resource flag before anything is made; onlineCpus: the host's CPU numbers, read when needed. */
export function parseLimits(opts: ResourceOptions, onlineCpus: () => number[]): Limits {
  const limits: Limits = {};
  if (opts.memory !== undefined) {
    limits.memory = parseBytes("--memory", opts.memory);
    if (limits.memory < MIN_MEMORY) throw new CboxError(`--memory ${opts.memory}: the minimum is 6m`);
  }
  if (opts.memorySwap !== undefined) {
    if (limits.memory === undefined) throw new CboxError("--memory-swap needs --memory");
    limits.memorySwap = opts.memorySwap === "-1" ? -1 : parseBytes("--memory-swap", opts.memorySwap);
    if (limits.memorySwap >= 0 && limits.memorySwap < limits.memory) {
      throw new CboxError(`--memory-swap ${opts.memorySwap}: memory plus swap cannot be less than --memory ${opts.memory}`);
    }
  }
  if (opts.memoryReservation !== undefined) {
    limits.memoryReservation = parseBytes("--memory-reservation", opts.memoryReservation);
    if (limits.memory !== undefined && limits.memoryReservation > limits.memory) {
      throw new CboxError(`--memory-reservation ${opts.memoryReservation}: above --memory ${opts.memory}; a reservation is a floor under the limit`);
    }
  }
  if (opts.cpus !== undefined) {
    if (opts.cpuPeriod !== undefined || opts.cpuQuota !== undefined) throw new CboxError("--cpus and --cpu-period/--cpu-quota say the same thing twice: give one or the other");
    const cpus = /^(\d+(\.\d*)?|\.\d+)$/.test(opts.cpus) ? Number(opts.cpus) : NaN;
    const n = onlineCpus().length;
    if (!(cpus >= 0.01 && cpus <= n)) throw new CboxError(`--cpus ${opts.cpus}: expected a number from 0.01 to ${n} (this host has ${n} CPUs)`);
    limits.cpuQuota = Math.round(cpus * CPU_PERIOD_US);
    limits.cpuPeriod = CPU_PERIOD_US;
  }
  if (opts.cpuPeriod !== undefined || opts.cpuQuota !== undefined) Object.assign(limits, cpuBandwidth(opts.cpuPeriod, opts.cpuQuota));
  if (opts.cpuShares !== undefined) {
    const shares = /^\d+$/.test(opts.cpuShares) ? Number(opts.cpuShares) : NaN;
    if (!(shares === 0 || (shares >= 2 && shares <= 262144))) throw new CboxError(`--cpu-shares ${opts.cpuShares}: expected a whole number from 2 to 262144 (1024 is the default weight)`);
    if (shares) limits.cpuShares = shares;
  }
  if (opts.cpusetCpus !== undefined) limits.cpusetCpus = checkCpuList(opts.cpusetCpus, onlineCpus());
  if (opts.pidsLimit !== undefined) {
    if (!/^(-1|\d{1,10})$/.test(opts.pidsLimit)) throw new CboxError(`--pids-limit ${opts.pidsLimit}: expected a whole number (0 or -1: no limit)`);
    const pids = Number(opts.pidsLimit);
    if (pids > 0) limits.pidsLimit = pids;
  }
  return limits;
}

/** --cpu-period (1 ms to 1 s, default 100 ms) and --cpu-quota (at least 1 ms; -1: none), in microseconds. */
function cpuBandwidth(period: string | undefined, quota: string | undefined): Pick<Limits, "cpuPeriod" | "cpuQuota" | "cpuBandwidthBy"> {
  const cpuPeriod = period === undefined ? CPU_PERIOD_US : /^\d{1,7}$/.test(period) ? Number(period) : NaN;
  if (!(cpuPeriod >= 1000 && cpuPeriod <= 1_000_000)) throw new CboxError(`--cpu-period ${period}: expected microseconds from 1000 to 1000000`);
  const cpuQuota = quota === undefined || quota === "-1" ? -1 : /^\d{1,12}$/.test(quota) ? Number(quota) : NaN;
  if (!(cpuQuota === -1 || cpuQuota >= 1000)) throw new CboxError(`--cpu-quota ${quota}: expected microseconds, at least 1000 (-1: no quota)`);
  return { cpuPeriod, cpuQuota, cpuBandwidthBy: quota !== undefined ? "--cpu-quota" : "--cpu-period" };
}

/** "64m", "1g", "1.5G", "512MiB", "1048576": binary units, as docker reads them. */
export function parseBytes(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(?:i?b)?$/i.exec(value);
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new CboxError(`${flag} ${value}: expected a size such as 64m, 1g or a number of bytes`);
  return bytes;
}

/** "0-1,3" into the CPUs it names; every one must be online. */
function checkCpuList(value: string, online: number[]): string {
  const flag = `--cpuset-cpus ${value}`;
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) throw new CboxError(`${flag}: expected a CPU list such as 0-1 or 0,2`);
  for (const part of value.split(",")) {
    const [from, to = from] = part.split("-").map(Number) as [number, number?];
    if (to! < from) throw new CboxError(`${flag}: the range ${part} goes backwards`);
    for (let cpu = from; cpu <= to!; cpu++) {
      if (!online.includes(cpu)) throw new CboxError(`${flag}: this host has no CPU ${cpu} (online: ${formatCpuList(online)})`);
    }
  }
  return value;
}

export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(",").filter(Boolean)) {
    const [from, to = from] = part.split("-").map(Number) as [number, number?];
    for (let cpu = from; cpu <= to!; cpu++) cpus.push(cpu);
  }
  return cpus;
}

function formatCpuList(cpus: number[]): string {
  return cpus.length > 1 && cpus.at(-1)! - cpus[0]! === cpus.length - 1 ? `${cpus[0]}-${cpus.at(-1)}` : cpus.join(",");
}

export function onlineCpus(): number[] {
  return parseCpuList(cgroupfs.read("/sys/devices/system/cpu/online") ?? "0");
}

export interface CgroupChoice {
  cgroup?: ContainerCgroup;
  /** Said once, on stderr, when limits were asked for and cannot be applied. */
  warning?: string;
}

/** This host, as chooseCgroup sees it. */
export function hostCgroups(rootless: boolean, layout: CgroupLayout): CgroupHost {
  return {
    layout,
    rootless,
    ownCgroup: () => readFileSync("/proc/self/cgroup", "utf8"),
    controllersOf: (dir) => (cgroupfs.read(`${dir}/cgroup.controllers`) ?? "").split(/\s+/).filter(Boolean),
  };
}

export interface CgroupHost {
  layout: CgroupLayout;
  rootless: boolean;
  /** /proc/self/cgroup, read only when needed. */
  ownCgroup: () => string;
  /** A cgroup2 folder's cgroup.controllers. */
  controllersOf: (dir: string) => string[];
}

/**
 * Root gets `cbox/<id>` at the top of each hierarchy used (docker's place). An ordinary user gets
 * one under the cgroup systemd delegated to them on v2; without delegation, no limits, said
 * plainly; on v1 a user can have no limits at all. devices: the only device nodes the container
 * may open (root's containers; a user namespace's mounts open none anyway); none: no limit.
 */
export function chooseCgroup(id: string, limits: Limits, host: CgroupHost, devices?: DeviceRule[]): CgroupChoice {
  const asked = hasLimits(limits);
  const flag = limitsSet(limits)[0]?.flag ?? "";
  const { layout } = host;
  if (layout.version === 0) {
    if (asked) throw new CboxError(`${flag}: this host has no cgroups mounted, so limits are not possible`);
    return {};
  }
  if (layout.version === 1) {
    if (host.rootless) {
      if (asked) throw new CboxError(`${flag}: limits for an ordinary user need cgroup v2 with delegation; this host has cgroup v1 (run as root)`);
      return {};
    }
    for (const c of controllersFor(limits)) {
      if (!layout.hierarchies.some((h) => h.controllers.includes(c))) throw new CboxError(`${flagOf(limits, c)}: the ${c} cgroup controller is not mounted on this host`);
    }
    if (devices && !layout.hierarchies.some((h) => h.controllers.includes("devices"))) {
      throw new CboxError("the devices cgroup controller is not mounted on this host, so device access cannot be limited (--privileged runs without the limit)");
    }
    return { cgroup: new V1Cgroup(v1Hierarchies(layout.hierarchies, limits, !!devices), id, limits, devices) };
  }
  const mount = layout.unified!;
  let base = mount;
  if (host.rootless) {
    const own = unifiedPath(host.ownCgroup());
    const delegated = own ? delegatedCgroup(mount, own) : undefined;
    if (!delegated) {
      const where = own ? `your cgroup ${own} is not delegated to you` : "cbox cannot find your cgroup";
      return asked ? { warning: `limits are not applied: ${where}; run cbox from a delegated cgroup (systemd-run --user --scope -p Delegate=yes cbox run ...) or as root` } : {};
    }
    base = delegated;
  }
  const available = host.controllersOf(base);
  for (const c of controllersFor(limits)) {
    if (!available.includes(c)) {
      const why = host.rootless ? `is not delegated to you (systemd's Delegate= for your user service)` : `is not enabled in cgroup2 (${base}/cgroup.controllers)`;
      throw new CboxError(`${flagOf(limits, c)}: the ${c} cgroup controller ${why}`);
    }
  }
  return { cgroup: new V2Cgroup(base, id, limits, v2Controllers(available, limits), cgroupfs, kernelDevices(devices)) };
}

/** The flag that asked for a controller, to name it in the error. */
function flagOf(limits: Limits, controller: string): string {
  return limitsSet(limits).find((l) => l.controller === controller)?.flag ?? controller;
}
