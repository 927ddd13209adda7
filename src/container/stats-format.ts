// `cbox stats`' arithmetic and text, apart from the cgroup reads: the kernel files' formats parsed,
// a row computed from two samples, sizes and tables as docker prints them.
import { table } from "../cli/output.ts";

/** What one reading of a container gives; cpuNs is its CPU time so far, at the moment `at` (ns). */
export interface StatsSample {
  id: string;
  name: string;
  at: number;
  cpuNs: number;
  memUsage: number;
  memLimit: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

/** docker stats' fields, as its --format json keys them. */
export interface StatsRow {
  ID: string;
  Name: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

/** A row from a sample and the one before it (none: no CPU figure yet, 0%). */
export function statsRow(after: StatsSample, before?: StatsSample): StatsRow {
  const wall = before ? after.at - before.at : 0;
  const cpu = wall > 0 ? (Math.max(0, after.cpuNs - before!.cpuNs) / wall) * 100 : 0;
  const mem = after.memLimit > 0 ? (after.memUsage / after.memLimit) * 100 : 0;
  return {
    ID: after.id.slice(0, 12),
    Name: after.name,
    CPUPerc: `${cpu.toFixed(2)}%`,
    MemUsage: `${binarySize(after.memUsage)} / ${binarySize(after.memLimit)}`,
    MemPerc: `${mem.toFixed(2)}%`,
    NetIO: `${decimalSize(after.netRx)} / ${decimalSize(after.netTx)}`,
    BlockIO: `${decimalSize(after.blockRead)} / ${decimalSize(after.blockWrite)}`,
    PIDs: String(after.pids),
  };
}

export function formatStats(rows: StatsRow[], format: "table" | "json"): string {
  if (format === "json") return rows.map((r) => `${JSON.stringify(r)}\n`).join("");
  return table(
    ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
    rows.map((r) => [r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs]),
  );
}

/** Memory as docker shows it: 1024-based, four significant digits ("1.477MiB", "512KiB", "0B"). */
export function binarySize(bytes: number): string {
  return scaled(bytes, 1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4);
}

const DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"];

/** I/O as docker shows it: 1000-based, three significant digits ("1.09kB", "12.3MB", "0B"). */
export function decimalSize(bytes: number): string {
  return scaled(bytes, 1000, DECIMAL_UNITS, 3);
}

/** What a prune says, docker's way: each non-empty list under its title ("Deleted Containers:"), then the space it gave back. */
export function pruneReport(lists: [title: string, items: string[]][], bytes: number): string {
  const listed = lists.filter(([, items]) => items.length).map(([title, items]) => `${title}:\n${items.map((i) => `${i}\n`).join("")}\n`);
  return `${listed.join("")}Total reclaimed space: ${humanSize(bytes)}\n`;
}

/** Other sizes as docker shows them (system df, reclaimed space): 1000-based, four significant digits ("16.43MB", "36B"). */
export function humanSize(bytes: number): string {
  return scaled(bytes, 1000, DECIMAL_UNITS, 4);
}

function scaled(value: number, base: number, units: string[], digits: number): string {
  let i = 0;
  while (value >= base && i < units.length - 1) {
    value /= base;
    i++;
  }
  return `${Number(value.toPrecision(digits))}${units[i]}`;
}

/** A "key value" line's value in a flat-keyed file (memory.stat, cpu.stat); undefined when absent. */
export function keyedValue(text: string | undefined, key: string): number | undefined {
  const m = new RegExp(`^${key} (\\d+)$`, "m").exec(text ?? "");
  return m ? Number(m[1]) : undefined;
}

/** Bytes read and written, from v1's blkio.throttle.io_service_bytes ("8:0 Read 4096" lines). */
export function v1BlockBytes(text: string | undefined): { read: number; write: number } {
  const sum = (op: string) => [...(text ?? "").matchAll(new RegExp(`^\\S+ ${op} (\\d+)$`, "gm"))].reduce((n, m) => n + Number(m[1]), 0);
  return { read: sum("Read"), write: sum("Write") };
}

/** Bytes read and written, from v2's io.stat ("8:0 rbytes=4096 wbytes=0 ..." lines). */
export function v2BlockBytes(text: string | undefined): { read: number; write: number } {
  const sum = (key: string) => [...(text ?? "").matchAll(new RegExp(`\\b${key}=(\\d+)`, "g"))].reduce((n, m) => n + Number(m[1]), 0);
  return { read: sum("rbytes"), write: sum("wbytes") };
}

/** Bytes received and sent on every interface but loopback, from /proc/PID/net/dev. */
export function networkBytes(text: string | undefined): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of (text ?? "").split("\n")) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === "lo") continue;
    const fields = m[2]!.trim().split(/\s+/).map(Number);
    rx += fields[0] ?? 0;
    tx += fields[8] ?? 0;
  }
  return { rx, tx };
}

/** MemTotal from /proc/meminfo, in bytes. */
export function memTotal(meminfo: string): number {
  return (Number(/^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1]) || 0) * 1024;
}
