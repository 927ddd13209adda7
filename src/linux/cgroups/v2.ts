// cgroup v2: one hierarchy. The container's cgroup is `<base>/cbox/<id>`, where base is the
// hierarchy's root for root, or the cgroup delegated to an ordinary user.
import { cgroupfs, type CgroupFs } from "./fs.ts";
import { attachDeviceProgram } from "./device-bpf.ts";
import { ALLOWED_DEVICES, type DeviceRule } from "./devices.ts";
import { CgroupFolders, makeInParent, writeSettings } from "./cgroup.ts";
import { controllersFor, cpuFlag, LIMIT_FLAGS as FLAG, memoryAndSwap, type Limits, type Setting } from "./limits.ts";

/** Accounted for every container when the hierarchy offers them (io: for stats' block I/O); cpuset only when asked for. */
const ALWAYS = ["cpu", "io", "memory", "pids"];

export function v2Controllers(available: string[], limits: Limits): string[] {
  const wanted = limits.cpusetCpus === undefined ? ALWAYS : ["cpuset", ...ALWAYS];
  return wanted.filter((c) => available.includes(c));
}

/** cpu.shares (2..262144) onto cpu.weight (1..10000), as runc and crun map it. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** The writes into the container's cgroup, in order; hasFile tells which optional files this kernel has. */
export function v2Settings(limits: Limits, hasFile: (file: string) => boolean): Setting[] {
  const out: Setting[] = [];
  if (limits.cpusetCpus !== undefined) out.push({ file: "cpuset.cpus", value: limits.cpusetCpus, flag: FLAG.cpusetCpus });
  if (limits.memory !== undefined) {
    out.push({ file: "memory.max", value: String(limits.memory), flag: FLAG.memory });
    const total = memoryAndSwap(limits)!;
    if (hasFile("memory.swap.max")) {
      out.push({ file: "memory.swap.max", value: total < 0 ? "max" : String(total - limits.memory), flag: FLAG.memorySwap });
    }
  }
  if (limits.memoryReservation !== undefined) out.push({ file: "memory.low", value: String(limits.memoryReservation), flag: FLAG.memoryReservation });
  if (limits.cpuShares !== undefined) out.push({ file: "cpu.weight", value: String(sharesToWeight(limits.cpuShares)), flag: FLAG.cpuShares });
  if (limits.cpuQuota !== undefined) out.push({ file: "cpu.max", value: `${limits.cpuQuota < 0 ? "max" : limits.cpuQuota} ${limits.cpuPeriod}`, flag: cpuFlag(limits) });
  if (limits.pidsLimit !== undefined) out.push({ file: "pids.max", value: String(limits.pidsLimit), flag: FLAG.pidsLimit });
  return out;
}

/** A container's device limit on v2: its rules, attached to its cgroup as an eBPF program. */
export interface DeviceControl {
  /** The device nodes the container may use; none: no limit (--privileged). */
  rules: DeviceRule[] | undefined;
  /**
   * Only root can load eBPF programs; a rootless container needs none, since device nodes on file
   * systems mounted in a user namespace cannot be opened (nodev).
   */
  asRoot: boolean;
  attach(cgroupDir: string, rules: DeviceRule[]): void;
}

/** The kernel's, on the real cgroupfs; a unit test's fake tree has no cgroup to attach a program to. */
export function kernelDevices(rules: DeviceRule[] | undefined, fs: CgroupFs = cgroupfs): DeviceControl {
  return { rules, asRoot: process.getuid?.() === 0, attach: fs === cgroupfs ? attachDeviceProgram : () => {} };
}

export class V2Cgroup extends CgroupFolders {
  readonly selfEntry = undefined; // cgroup.procs takes the lock even for "0"
  private readonly dir: string;

  /** base: the cgroup under which `cbox/<id>` is made, a folder of the mounted hierarchy. */
  constructor(
    private readonly base: string,
    id: string,
    private readonly limits: Limits,
    private readonly controllers: string[],
    fs: CgroupFs = cgroupfs,
    private readonly devices: DeviceControl = kernelDevices(ALLOWED_DEVICES, fs),
  ) {
    super([`${base}/cbox/${id}`], fs);
    this.dir = this.paths[0]!;
  }

  protected make(): void {
    // Controllers pass down one level at a time: base -> cbox -> cbox/<id>.
    this.enable(this.base);
    const parent = `${this.base}/cbox`;
    makeInParent(parent, this.dir, () => this.enable(parent), this.fs);
    if (this.devices.asRoot && this.devices.rules) this.devices.attach(this.dir, this.devices.rules);
    writeSettings(this.dir, v2Settings(this.limits, (f) => this.fs.exists(`${this.dir}/${f}`)), this.fs);
  }

  /**
   * Turns on in dir's cgroup.subtree_control the controllers it does not pass down yet. Only
   * those the limits need must succeed: the kernel can refuse one (cpu, while realtime tasks
   * run in other cgroups), and a container without a cpu limit does not need it.
   */
  private enable(dir: string): void {
    const on = (this.fs.read(`${dir}/cgroup.subtree_control`) ?? "").split(/\s+/);
    const wanted = this.controllers.filter((c) => !on.includes(c));
    const needed = controllersFor(this.limits).filter((c) => !on.includes(c));
    const write = (cs: string[]) => writeSettings(dir, [{ file: "cgroup.subtree_control", value: cs.map((c) => `+${c}`).join(" "), flag: "cgroups" }], this.fs);
    if (wanted.length === 0) return;
    try {
      write(wanted);
    } catch (err) {
      if (needed.length === wanted.length) throw err;
      if (needed.length) write(needed);
    }
  }
}
