// `cbox stats`: containers' CPU, memory, network, block I/O and processes, read from their cgroups
// (v1 or v2) and their PID 1's /proc, as docker stats shows them. Each figure comes from two
// readings: 100 ms apart for the first (and only, with --no-stream), then one a second.
import { readFileSync, writeSync } from "node:fs";
import { isatty } from "node:tty";
import { CboxError } from "../errors.ts";
import { cgroupfs } from "../linux/cgroups/fs.ts";
import type { Paths } from "../paths.ts";
import { containerProcesses } from "./processes.ts";
import { listContainers } from "./ps.ts";
import { resolveContainer } from "./remove.ts";
import { formatStats, keyedValue, memTotal, networkBytes, statsRow, v1BlockBytes, v2BlockBytes, type StatsSample } from "./stats-format.ts";
import { liveState, pid1Alive } from "./status.ts";
import { containerDirs, readState, type ContainerState } from "./store.ts";

export interface StatsOptions {
  noStream: boolean;
  format?: string;
}

const CLEAR_SCREEN = "\x1b[2J\x1b[H";

export async function showStats(refs: string[], opts: StatsOptions, paths: Paths): Promise<number> {
  const format = opts.format ?? "table";
  if (format !== "table" && format !== "json") throw new CboxError(`--format ${JSON.stringify(opts.format)}: use table or json`);
  const dirs = refs.map((ref) => containerDirs(paths, resolveContainer(paths, ref)).dir);
  // Named containers are shown while they exist (stopped ones as zeros); without names, the running ones.
  const containers = async () =>
    refs.length ? dirs.map(readState).filter((s): s is ContainerState => s !== undefined) : (await listContainers(paths)).filter((c) => c.live === "running").map((c) => c.state);
  const hostMemory = memTotal(readFileSync("/proc/meminfo", "utf8"));
  const clear = !opts.noStream && isatty(1);
  let before = new Map((await containers()).map((s) => [s.id, sample(s, hostMemory)]));
  for (let first = true; ; first = false) {
    await Bun.sleep(first ? 100 : 1000);
    const after = (await containers()).map((s) => sample(s, hostMemory));
    const text = formatStats(after.map((s) => statsRow(s, before.get(s.id))), format);
    if (!print(clear ? CLEAR_SCREEN + text : text) || opts.noStream) return 0;
    before = new Map(after.map((s) => [s.id, s]));
  }
}

/** false when whoever read the output has gone (stats | head). */
function print(text: string): boolean {
  try {
    writeSync(1, text);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EPIPE") return false;
    throw err;
  }
}

/** One reading of a container; zeros for one that does not run. */
export function sample(state: ContainerState, hostMemory: number): StatsSample {
  const base = { id: state.id, name: state.name, at: Bun.nanoseconds(), cpuNs: 0, memUsage: 0, memLimit: 0, netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0, pids: 0 };
  if (liveState(state) !== "running" || !pid1Alive(state)) return base;
  const cgroups = state.cgroups ?? [];
  const read = (file: string) => {
    for (const path of cgroups) {
      const text = cgroupfs.read(`${path}/${file}`);
      if (text !== undefined) return text;
    }
    return undefined;
  };
  const cpuacct = read("cpuacct.usage");
  const v1 = cpuacct !== undefined || read("memory.usage_in_bytes") !== undefined; // v2 has neither
  const cpuNs = v1 ? Number(cpuacct ?? 0) : (keyedValue(read("cpu.stat"), "usage_usec") ?? 0) * 1000;
  // docker's figure: what the cgroup charges, less the page cache the kernel may drop first.
  const usage = Number((v1 ? read("memory.usage_in_bytes") : read("memory.current")) ?? 0);
  const inactive = keyedValue(read("memory.stat"), v1 ? "total_inactive_file" : "inactive_file") ?? 0;
  const limit = Number((v1 ? read("memory.limit_in_bytes") : read("memory.max"))?.trim()); // NaN for v2's "max"
  const block = v1 ? v1BlockBytes(read("blkio.throttle.io_service_bytes")) : v2BlockBytes(read("io.stat"));
  // With the host's network, docker shows none: the counters would be the host's.
  const net = state.network?.mode === "host" ? { rx: 0, tx: 0 } : networkBytes(readOrUndefined(`/proc/${state.pid}/net/dev`));
  const pidsCurrent = read("pids.current");
  return {
    ...base,
    cpuNs,
    memUsage: inactive < usage ? usage - inactive : usage,
    memLimit: Number.isFinite(limit) && limit > 0 && limit < hostMemory ? limit : hostMemory,
    netRx: net.rx,
    netTx: net.tx,
    blockRead: block.read,
    blockWrite: block.write,
    pids: pidsCurrent !== undefined ? Number(pidsCurrent) : containerProcesses(state).length,
  };
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
