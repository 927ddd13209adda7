// linux.resources as writes into control files, for each cgroup version. Each write names the
// config field it comes from, for the one-line error when the kernel refuses it.
import { CboxError } from "../errors.ts";
import type { Setting } from "../linux/cgroups/limits.ts";
import { sharesToWeight } from "../linux/cgroups/v2.ts";
import type { OciBlockIO, OciResources } from "./config.ts";

const MEMORY = "linux.resources.memory";
const CPU = "linux.resources.cpu";

/** v1: the writes for a hierarchy with these controllers, in order; hasFile tells which files this kernel has. */
export function v1ResourceSettings(r: OciResources | undefined, controllers: string[], hasFile: (file: string) => boolean): Setting[] {
  const out: Setting[] = [];
  const has = (c: string) => controllers.includes(c);
  const set = (file: string, value: number | string | undefined, field: string) => {
    if (value !== undefined) out.push({ file, value: String(value), flag: field });
  };
  const mem = r?.memory;
  if (has("memory") && mem) {
    set("memory.limit_in_bytes", mem.limit, `${MEMORY}.limit`);
    set("memory.soft_limit_in_bytes", mem.reservation, `${MEMORY}.reservation`);
    // Swap accounting may be off (no memsw files): then only memory is limited, as with runc.
    if (hasFile("memory.memsw.limit_in_bytes")) set("memory.memsw.limit_in_bytes", mem.swap, `${MEMORY}.swap`);
    set("memory.kmem.limit_in_bytes", mem.kernel, `${MEMORY}.kernel`);
    set("memory.kmem.tcp.limit_in_bytes", mem.kernelTCP, `${MEMORY}.kernelTCP`);
    set("memory.swappiness", mem.swappiness, `${MEMORY}.swappiness`);
    if (mem.disableOOMKiller) set("memory.oom_control", 1, `${MEMORY}.disableOOMKiller`);
  }
  const cpu = r?.cpu;
  if (has("cpu") && cpu) {
    set("cpu.shares", cpu.shares || undefined, `${CPU}.shares`);
    set("cpu.cfs_period_us", cpu.period || undefined, `${CPU}.period`);
    set("cpu.cfs_quota_us", cpu.quota || undefined, `${CPU}.quota`);
    set("cpu.rt_period_us", cpu.realtimePeriod || undefined, `${CPU}.realtimePeriod`);
    set("cpu.rt_runtime_us", cpu.realtimeRuntime || undefined, `${CPU}.realtimeRuntime`);
  }
  if (has("cpuset") && cpu) {
    set("cpuset.cpus", cpu.cpus || undefined, `${CPU}.cpus`);
    set("cpuset.mems", cpu.mems || undefined, `${CPU}.mems`);
  }
  if (has("pids") && r?.pids) set("pids.max", r.pids.limit > 0 ? r.pids.limit : "max", "linux.resources.pids.limit");
  if (has("blkio") && r?.blockIO) out.push(...v1BlockIO(r.blockIO, hasFile));
  return out;
}

const BLKIO = "linux.resources.blockIO";
const THROTTLES = [
  ["throttleReadBpsDevice", "read_bps_device", "rbps"],
  ["throttleWriteBpsDevice", "write_bps_device", "wbps"],
  ["throttleReadIOPSDevice", "read_iops_device", "riops"],
  ["throttleWriteIOPSDevice", "write_iops_device", "wiops"],
] as const;

/** v1's blkio: weights (CFQ's blkio.weight or BFQ's blkio.bfq.weight, whichever this kernel has) and throttles. */
function v1BlockIO(b: OciBlockIO, hasFile: (file: string) => boolean): Setting[] {
  const out: Setting[] = [];
  const weightFile = ["blkio.weight", "blkio.bfq.weight"].find(hasFile);
  const needWeight = (field: string) => {
    if (!weightFile) throw new CboxError(`config.json: ${BLKIO}.${field}: this kernel's blkio controller has no weights (no CFQ or BFQ scheduler); remove the field`);
    return weightFile;
  };
  if (b.weight) out.push({ file: needWeight("weight"), value: String(b.weight), flag: `${BLKIO}.weight` });
  if (b.leafWeight) {
    if (!hasFile("blkio.leaf_weight")) throw new CboxError(`config.json: ${BLKIO}.leafWeight: this kernel's blkio controller has no leaf weights; remove the field`);
    out.push({ file: "blkio.leaf_weight", value: String(b.leafWeight), flag: `${BLKIO}.leafWeight` });
  }
  for (const d of b.weightDevice ?? []) {
    if (d.weight) out.push({ file: `${needWeight("weightDevice")}_device`, value: `${d.major}:${d.minor} ${d.weight}`, flag: `${BLKIO}.weightDevice` });
  }
  for (const [field, file] of THROTTLES) {
    for (const d of b[field] ?? []) out.push({ file: `blkio.throttle.${file}`, value: `${d.major}:${d.minor} ${d.rate}`, flag: `${BLKIO}.${field}` });
  }
  return out;
}

/** v2's io controller: io.weight (blkio's 10..1000 onto 1..10000, as runc) and io.max. */
function v2BlockIO(b: OciBlockIO): Setting[] {
  const out: Setting[] = [];
  if (b.weight) out.push({ file: "io.weight", value: `default ${1 + Math.floor(((b.weight - 10) * 9999) / 990)}`, flag: `${BLKIO}.weight` });
  if (b.leafWeight || b.weightDevice?.some((d) => d.weight || d.leafWeight)) throw new CboxError(`config.json: ${BLKIO}: cgroup v2 has no leaf or per-device weights; remove leafWeight and weightDevice`);
  for (const [field, , key] of THROTTLES) {
    for (const d of b[field] ?? []) out.push({ file: "io.max", value: `${d.major}:${d.minor} ${key}=${d.rate}`, flag: `${BLKIO}.${field}` });
  }
  return out;
}

/** v2: the writes into the container's cgroup; what v2 has no file for is refused. */
export function v2ResourceSettings(r: OciResources | undefined, hasFile: (file: string) => boolean): Setting[] {
  const out: Setting[] = [];
  const set = (file: string, value: number | string | undefined, field: string) => {
    if (value !== undefined) out.push({ file, value: String(value), flag: field });
  };
  const mem = r?.memory;
  if (mem) {
    for (const key of ["kernel", "kernelTCP", "swappiness"] as const) {
      if (mem[key] !== undefined) throw new CboxError(`config.json: ${MEMORY}.${key}: cgroup v2 has no such limit; remove the field`);
    }
    if (mem.disableOOMKiller) throw new CboxError(`config.json: ${MEMORY}.disableOOMKiller: cgroup v2 cannot turn the OOM killer off; remove the field`);
    set("memory.max", mem.limit !== undefined && mem.limit >= 0 ? mem.limit : undefined, `${MEMORY}.limit`);
    set("memory.low", mem.reservation, `${MEMORY}.reservation`);
    // OCI's swap is memory plus swap; v2's memory.swap.max is the swap alone.
    if (mem.swap !== undefined && hasFile("memory.swap.max")) set("memory.swap.max", mem.swap < 0 ? "max" : mem.swap - (mem.limit ?? 0), `${MEMORY}.swap`);
  }
  const cpu = r?.cpu;
  if (cpu) {
    if (cpu.realtimeRuntime || cpu.realtimePeriod) throw new CboxError(`config.json: ${CPU}.realtimeRuntime: cgroup v2 has no realtime limits; remove the field`);
    set("cpu.weight", cpu.shares ? sharesToWeight(cpu.shares) : undefined, `${CPU}.shares`);
    if (cpu.quota || cpu.period) set("cpu.max", `${cpu.quota && cpu.quota > 0 ? cpu.quota : "max"} ${cpu.period || 100000}`, `${CPU}.quota`);
    set("cpuset.cpus", cpu.cpus || undefined, `${CPU}.cpus`);
    set("cpuset.mems", cpu.mems || undefined, `${CPU}.mems`);
  }
  if (r?.pids) set("pids.max", r.pids.limit > 0 ? r.pids.limit : "max", "linux.resources.pids.limit");
  if (r?.blockIO) out.push(...v2BlockIO(r.blockIO));
  return out;
}
