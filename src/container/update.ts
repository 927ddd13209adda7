// `cbox update`: new limits for containers. A running one gets them in its cgroup at once; every
// one keeps them in its spec (inspect shows them, start applies them). The flags are run's, checked
// as run checks them.
import { readFileSync, writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { CgroupWriteError } from "../linux/cgroups/cgroup.ts";
import { existingCgroups, parseLayout } from "../linux/cgroups/detect.ts";
import { cgroupfs } from "../linux/cgroups/fs.ts";
import { formatBinaryBytes, LIMIT_FLAGS, type Controller, type Limits, type Setting } from "../linux/cgroups/limits.ts";
import { v1Settings } from "../linux/cgroups/v1.ts";
import { v2Settings } from "../linux/cgroups/v2.ts";
import type { Paths } from "../paths.ts";
import { withContainerLock } from "./lock.ts";
import { resolveContainer } from "./remove.ts";
import { onlineCpus, parseLimits, type ResourceOptions } from "./resources.ts";
import { liveState, pid1Alive, waitingForStart } from "./status.ts";
import { containerDirs, readSpec, readState, updateState, writeSpec, type ContainerState } from "./store.ts";

/** Each flag's controller, and the limits it sets. */
const FLAGS: { option: keyof ResourceOptions; flag: string; controller: Controller; keys: (keyof Limits)[] }[] = [
  { option: "memory", flag: "--memory", controller: "memory", keys: ["memory"] },
  { option: "memorySwap", flag: "--memory-swap", controller: "memory", keys: ["memorySwap"] },
  { option: "memoryReservation", flag: "--memory-reservation", controller: "memory", keys: ["memoryReservation"] },
  { option: "cpus", flag: "--cpus", controller: "cpu", keys: ["cpuQuota", "cpuPeriod", "cpuBandwidthBy"] },
  { option: "cpuPeriod", flag: "--cpu-period", controller: "cpu", keys: ["cpuQuota", "cpuPeriod", "cpuBandwidthBy"] },
  { option: "cpuQuota", flag: "--cpu-quota", controller: "cpu", keys: ["cpuQuota", "cpuPeriod", "cpuBandwidthBy"] },
  { option: "cpuShares", flag: "--cpu-shares", controller: "cpu", keys: ["cpuShares"] },
  { option: "cpusetCpus", flag: "--cpuset-cpus", controller: "cpuset", keys: ["cpusetCpus"] },
  { option: "pidsLimit", flag: "--pids-limit", controller: "pids", keys: ["pidsLimit"] },
];

export function updateContainers(refs: string[], opts: ResourceOptions, paths: Paths): number {
  if (refs.length === 0) throw new CboxError("cbox update needs at least one container");
  if (!FLAGS.some((f) => opts[f.option] !== undefined)) {
    const flags = FLAGS.map((f) => f.flag);
    throw new CboxError(`cbox update needs at least one limit to change: ${flags.slice(0, -1).join(", ")} or ${flags.at(-1)}`);
  }
  const targets = refs.map((ref) => ({ ref, dir: containerDirs(paths, resolveContainer(paths, ref)).dir }));
  // Every container checked before any is changed.
  for (const { ref, dir } of targets) plan(ref, readState(dir), opts);
  for (const { ref, dir } of targets) {
    withContainerLock(dir, () => {
      const state = readState(dir);
      const { limits, running } = plan(ref, state, opts);
      if (running) applyLimits(state!, limits, opts);
      const dirs = containerDirs(paths, state!.id);
      const spec = readSpec(dir, state!);
      if (spec) writeSpec(dirs, state!, { ...spec, limits });
      updateState(dirs, { limits });
    });
    writeSync(1, `${ref}\n`);
  }
  return 0;
}

/** The container's limits after the update, and whether its cgroup is to be changed now. */
function plan(ref: string, state: ContainerState | undefined, opts: ResourceOptions): { limits: Limits; running: boolean } {
  if (!state) throw new CboxError(`no such container: ${ref}`);
  const live = liveState(state);
  if (live === "created" && !waitingForStart(state)) throw new CboxError(`container ${ref} is starting; update it once it runs`);
  const running = live === "running" && pid1Alive(state);
  const limits = mergeLimits(state.limits ?? {}, opts, onlineCpus);
  if (running) missingController(ref, state.cgroups ?? [], opts);
  return { limits, running };
}

/** old with what opts change, checked as run checks them; --memory-swap alone keeps the memory limit it goes with. */
export function mergeLimits(old: Limits, opts: ResourceOptions, cpus: () => number[]): Limits {
  const given = { ...opts };
  if (given.memorySwap !== undefined && given.memory === undefined) {
    if (old.memory === undefined) throw new CboxError("--memory-swap needs --memory (the container has no memory limit)");
    given.memory = String(old.memory);
  }
  // --cpu-quota alone keeps the period the container has, and --cpu-period alone its quota.
  if (given.cpuQuota !== undefined && given.cpuPeriod === undefined && given.cpus === undefined && old.cpuPeriod !== undefined) given.cpuPeriod = String(old.cpuPeriod);
  if (given.cpuPeriod !== undefined && given.cpuQuota === undefined && given.cpus === undefined && old.cpuQuota !== undefined) given.cpuQuota = String(old.cpuQuota);
  const parsed = parseLimits(given, cpus);
  const next: Limits = { ...old };
  for (const f of FLAGS) {
    if (given[f.option] === undefined) continue;
    for (const key of f.keys) {
      if (parsed[key] === undefined) delete next[key]; // 0 or -1: no limit
      else (next as Record<string, unknown>)[key] = parsed[key];
    }
  }
  if (next.memory !== undefined && next.memorySwap !== undefined && next.memorySwap >= 0 && next.memorySwap < next.memory) {
    throw new CboxError(`--memory ${opts.memory}: more than the container's memory plus swap limit (${formatBinaryBytes(next.memorySwap)}); give --memory-swap too`);
  }
  return next;
}

/** A one-line error for a limit whose controller the container's cgroup was made without. */
function missingController(ref: string, cgroups: string[], opts: ResourceOptions): void {
  const layout = parseLayout(readFileSync("/proc/self/mountinfo", "utf8"));
  const existing = existingCgroups(layout, cgroups);
  for (const f of FLAGS.filter((f) => opts[f.option] !== undefined)) {
    if (cgroups.length === 0) throw new CboxError(`${f.flag}: container ${ref} has no cgroup of its own, so its limits cannot change while it runs; stop it, update it, and start it again`);
    const has = layout.version === 1 ? existing.some((c) => c.controllers.includes(f.controller)) : (cgroupfs.read(`${cgroups[0]}/cgroup.controllers`) ?? "").split(/\s+/).includes(f.controller);
    if (!has) throw new CboxError(`${f.flag}: container ${ref} was made without the ${f.controller} cgroup controller; recreate it with ${f.flag} to limit it`);
  }
}

/** Writes the changed limits into the running container's cgroups; on a refusal, what was written is put back. */
function applyLimits(state: ContainerState, limits: Limits, opts: ResourceOptions): void {
  const layout = parseLayout(readFileSync("/proc/self/mountinfo", "utf8"));
  const changed: Limits = {};
  const flags = FLAGS.filter((f) => opts[f.option] !== undefined || (f.controller === "memory" && (opts.memory ?? opts.memorySwap) !== undefined));
  for (const f of flags) for (const key of f.keys) (changed as Record<string, unknown>)[key] = limits[key];
  const writes: { path: string; setting: Setting }[] = [];
  for (const { path, controllers } of existingCgroups(layout, state.cgroups ?? [])) {
    const has = (c: string) => layout.version !== 1 || controllers.includes(c);
    const hasFile = (f: string) => cgroupfs.exists(`${path}/${f}`);
    const settings = layout.version === 1 ? v1Settings(controllers, changed, hasFile) : v2Settings(changed, hasFile);
    if (layout.version === 1 && has("cpuset") && changed.cpusetCpus !== undefined) settings.push({ file: "cpuset.cpus", value: changed.cpusetCpus, flag: LIMIT_FLAGS.cpusetCpus });
    // A limit taken away: the kernel's default again.
    if (has("pids") && opts.pidsLimit !== undefined && limits.pidsLimit === undefined) settings.push({ file: "pids.max", value: "max", flag: LIMIT_FLAGS.pidsLimit });
    if (has("cpu") && opts.cpuShares !== undefined && limits.cpuShares === undefined) {
      settings.push(layout.version === 1 ? { file: "cpu.shares", value: "1024", flag: LIMIT_FLAGS.cpuShares } : { file: "cpu.weight", value: "100", flag: LIMIT_FLAGS.cpuShares });
    }
    writes.push(...memoryFirstOrLast(settings, cgroupfs.read(`${path}/memory.memsw.limit_in_bytes`)).map((setting) => ({ path, setting })));
  }
  const done: { file: string; old: string }[] = [];
  try {
    for (const { path, setting } of writes) {
      const file = `${path}/${setting.file}`;
      const old = (cgroupfs.read(file) ?? "").trim();
      try {
        cgroupfs.write(file, setting.value);
      } catch (err) {
        throw new CgroupWriteError(setting.flag, setting.file, setting.value, (err as NodeJS.ErrnoException).code ?? String(err));
      }
      done.push({ file, old });
    }
  } catch (err) {
    for (const { file, old } of done.reverse()) {
      try {
        cgroupfs.write(file, old);
      } catch {
        // best effort: the refusal is what is reported
      }
    }
    if (err instanceof CgroupWriteError) throw new CboxError(`${err.flag}: the kernel refused ${err.value} for ${err.file} (${err.code})`);
    throw err;
  }
}

/**
 * v1 refuses a memory limit above memory plus swap, and memory plus swap below the memory limit:
 * a memsw limit that grows is written before the memory limit, one that shrinks after it.
 */
export function memoryFirstOrLast(settings: Setting[], currentMemsw: string | undefined): Setting[] {
  const memsw = settings.find((s) => s.file === "memory.memsw.limit_in_bytes");
  const grows = memsw && currentMemsw !== undefined && (Number(memsw.value) < 0 || Number(memsw.value) > Number(currentMemsw.trim()));
  return grows ? [memsw, ...settings.filter((s) => s !== memsw)] : settings;
}
