// cgroup v1: one hierarchy per controller (or a few mounted together), the container's cgroup
// made in each hierarchy it uses as `cbox/<id>`.
import { cgroupfs, type CgroupFs } from "./fs.ts";
import { CgroupFolders, makeInParent, tasksFiles, writeSettings } from "./cgroup.ts";
import { v1DeviceWrites, type DeviceRule } from "./devices.ts";
import { cpuFlag, LIMIT_FLAGS as FLAG, memoryAndSwap, type Limits, type Setting } from "./limits.ts";

export interface Hierarchy {
  mount: string;
  controllers: string[];
}

/**
 * Every container is accounted in these (freezer: for pause; blkio: for stats' block I/O);
 * cpuset only when --cpuset-cpus asks for it.
 */
const ALWAYS = ["memory", "cpu", "cpuacct", "pids", "freezer", "blkio"];

/** The hierarchies a container with these limits uses, each once even when mounted together. */
export function v1Hierarchies(all: Hierarchy[], limits: Limits, devices: boolean): Hierarchy[] {
  const wanted = [...ALWAYS, ...(limits.cpusetCpus === undefined ? [] : ["cpuset"]), ...(devices ? ["devices"] : [])];
  return all.filter((h) => h.controllers.some((c) => wanted.includes(c)));
}

/** The writes for one hierarchy, in order; hasFile tells which optional files this kernel has. */
export function v1Settings(controllers: string[], limits: Limits, hasFile: (file: string) => boolean, devices?: DeviceRule[]): Setting[] {
  const out: Setting[] = [];
  const has = (c: string) => controllers.includes(c);
  if (has("devices") && devices) out.push(...v1DeviceWrites(devices).map((w) => ({ ...w, flag: "device rules" })));
  if (has("memory") && limits.memory !== undefined) {
    out.push({ file: "memory.limit_in_bytes", value: String(limits.memory), flag: FLAG.memory });
    // Swap accounting may be off (no memsw files): then only memory is limited, as with docker.
    if (hasFile("memory.memsw.limit_in_bytes")) {
      out.push({ file: "memory.memsw.limit_in_bytes", value: String(memoryAndSwap(limits)), flag: FLAG.memorySwap });
    }
  }
  if (has("memory") && limits.memoryReservation !== undefined) {
    out.push({ file: "memory.soft_limit_in_bytes", value: String(limits.memoryReservation), flag: FLAG.memoryReservation });
  }
  if (has("cpu")) {
    if (limits.cpuShares !== undefined) out.push({ file: "cpu.shares", value: String(limits.cpuShares), flag: FLAG.cpuShares });
    if (limits.cpuQuota !== undefined) {
      out.push({ file: "cpu.cfs_period_us", value: String(limits.cpuPeriod), flag: cpuFlag(limits) });
      out.push({ file: "cpu.cfs_quota_us", value: String(limits.cpuQuota), flag: cpuFlag(limits) });
    }
  }
  if (has("pids") && limits.pidsLimit !== undefined) out.push({ file: "pids.max", value: String(limits.pidsLimit), flag: FLAG.pidsLimit });
  return out;
}

export class V1Cgroup extends CgroupFolders {
  readonly selfEntry: string[];

  constructor(
    private readonly hierarchies: Hierarchy[],
    id: string,
    private readonly limits: Limits,
    private readonly devices?: DeviceRule[],
    fs: CgroupFs = cgroupfs,
  ) {
    super(hierarchies.map((h) => `${h.mount}/cbox/${id}`), fs);
    this.selfEntry = tasksFiles(this.paths);
  }

  protected make(): void {
    this.hierarchies.forEach((h, i) => {
      const dir = this.paths[i]!;
      const parent = `${h.mount}/cbox`;
      const readyParent = () => {
        if (h.controllers.includes("cpuset") && !this.fs.read(`${parent}/cpuset.cpus`)?.trim()) this.initCpuset(parent);
      };
      makeInParent(parent, dir, readyParent, this.fs);
      if (h.controllers.includes("cpuset")) this.initCpuset(dir, this.limits.cpusetCpus);
      writeSettings(dir, v1Settings(h.controllers, this.limits, (f) => this.fs.exists(`${dir}/${f}`), this.devices), this.fs);
    });
  }

  /** A new v1 cpuset has no CPUs and no memory nodes: no task could enter it. It takes its parent's. */
  private initCpuset(dir: string, cpus?: string): void {
    const parent = dir.slice(0, dir.lastIndexOf("/"));
    const inherited = (file: string) => (this.fs.read(`${parent}/${file}`) ?? "").trim();
    writeSettings(dir, [
      { file: "cpuset.cpus", value: cpus ?? inherited("cpuset.cpus"), flag: FLAG.cpusetCpus },
      { file: "cpuset.mems", value: inherited("cpuset.mems"), flag: FLAG.cpusetCpus },
    ], this.fs);
  }
}
