// The pure parts of cbox stats, top and update: kernel files parsed, rows computed and printed.
import { describe, expect, test } from "bun:test";
import { binarySize, decimalSize, formatStats, keyedValue, memTotal, networkBytes, statsRow, v1BlockBytes, v2BlockBytes, type StatsSample } from "../../src/container/stats-format.ts";
import { containerRows } from "../../src/container/top.ts";
import { memoryFirstOrLast, mergeLimits } from "../../src/container/update.ts";
import { thrown } from "./helpers.ts";

const sample: StatsSample = {
  id: "ab".repeat(32),
  name: "web",
  at: 2_000_000_000,
  cpuNs: 600_000_000,
  memUsage: 1_548_288,
  memLimit: 64 * 1024 ** 2,
  netRx: 1090,
  netTx: 0,
  blockRead: 12_300_000,
  blockWrite: 4096,
  pids: 3,
};

describe("stats", () => {
  test("sizes as docker prints them: memory 1024-based to four digits, I/O 1000-based to three", () => {
    expect([0, 512, 1024, 1_548_288, 64 * 1024 ** 2, 25_275_691_008].map(binarySize)).toEqual(["0B", "512B", "1KiB", "1.477MiB", "64MiB", "23.54GiB"]);
    expect([0, 999, 1090, 12_300_000, 4096, 2.5e12].map(decimalSize)).toEqual(["0B", "999B", "1.09kB", "12.3MB", "4.1kB", "2.5TB"]);
  });

  test("a row: CPU from the two readings' CPU time over the time between them, memory against its limit", () => {
    const before = { ...sample, at: 1_000_000_000, cpuNs: 100_000_000 };
    expect(statsRow(sample, before)).toEqual({
      ID: "abababababab",
      Name: "web",
      CPUPerc: "50.00%",
      MemUsage: "1.477MiB / 64MiB",
      MemPerc: "2.31%",
      NetIO: "1.09kB / 0B",
      BlockIO: "12.3MB / 4.1kB",
      PIDs: "3",
    });
    // two CPUs busy: 200%, as docker counts; no earlier reading: 0%; no limit known: 0%
    expect(statsRow({ ...sample, cpuNs: 2_100_000_000 }, before).CPUPerc).toBe("200.00%");
    expect(statsRow(sample).CPUPerc).toBe("0.00%");
    expect(statsRow({ ...sample, memLimit: 0 }).MemPerc).toBe("0.00%");
  });

  test("table with docker's columns, or one JSON object a line with docker's keys", () => {
    const row = statsRow(sample);
    const [header, line, end] = formatStats([row], "table").split("\n");
    expect(header).toMatch(/^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS$/);
    expect(line).toMatch(/^abababababab +web +0\.00% +1\.477MiB \/ 64MiB +2\.31% +1\.09kB \/ 0B +12\.3MB \/ 4\.1kB +3$/);
    expect(end).toBe("");
    const json = formatStats([row, { ...row, Name: "db" }], "json").split("\n");
    expect(json).toHaveLength(3);
    expect(Object.keys(JSON.parse(json[0]!))).toEqual(["ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"]);
    expect(JSON.parse(json[1]!).Name).toBe("db");
  });

  test("the kernel's files: memory.stat and cpu.stat keys, v1 blkio and v2 io.stat, net/dev without lo, MemTotal", () => {
    const stat = "cache 10858496\ninactive_file 32768\ntotal_inactive_file 275046400\n";
    expect([keyedValue(stat, "inactive_file"), keyedValue(stat, "total_inactive_file"), keyedValue(stat, "nothing"), keyedValue(undefined, "cache")]).toEqual([32768, 275046400, undefined, undefined]);
    expect(keyedValue("usage_usec 123456\nuser_usec 100\n", "usage_usec")).toBe(123456);
    const blkio = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 100\n8:16 Write 0\nTotal 12388\n";
    expect(v1BlockBytes(blkio)).toEqual({ read: 4196, write: 8192 });
    expect(v1BlockBytes(undefined)).toEqual({ read: 0, write: 0 });
    expect(v2BlockBytes("8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=4 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n")).toEqual({ read: 4100, write: 512 });
    const netdev = [
      "Inter-|   Receive                                                |  Transmit",
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
      "    lo:  999999     10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0",
      "  eth0:    1500      5    0    0    0     0          0         0      700       4    0    0    0     0       0          0",
      "  veth1:     10      1    0    0    0     0          0         0       20       1    0    0    0     0       0          0",
    ].join("\n");
    expect(networkBytes(netdev)).toEqual({ rx: 1510, tx: 720 });
    expect(memTotal("MemTotal:       24683288 kB\nMemFree:  1 kB\n")).toBe(24683288 * 1024);
  });
});

describe("top", () => {
  const ps = ["UID        PID  PPID  C STIME TTY          TIME CMD", "root         1     0  0 10:00 ?        00:00:01 /sbin/init", "root       200     1  0 10:01 ?        00:00:00 sh -c sleep 100", "root       201   200  0 10:01 ?        00:00:00 sleep 100", ""].join("\n");

  test("keeps ps's header and the rows whose PID column is the container's, as ps printed them", () => {
    expect(containerRows(ps, new Set([200, 201]))).toBe(`${ps.split("\n")[0]}\n${ps.split("\n")[2]}\n${ps.split("\n")[3]}\n`);
    expect(containerRows("  PID COMMAND\n    1 init\n  201 sleep\n", new Set([201]))).toBe("  PID COMMAND\n  201 sleep\n");
  });

  test("ps options without a PID column are refused in one line", () => {
    expect(thrown(() => containerRows("COMMAND\nsleep\n", new Set([1]), ["-o", "comm"])).message).toBe("ps -o comm: its output has no PID column; give options that show it (such as -ef, or -o pid,args)");
  });
});

describe("update", () => {
  const cpus = () => [0, 1];

  test("the flags given change their limits; the others are kept; 0 or -1 takes a limit away", () => {
    const old = { memory: 64 << 20, pidsLimit: 20, cpuShares: 512 };
    expect(mergeLimits(old, { cpus: "0.5" }, cpus)).toEqual({ ...old, cpuQuota: 50_000, cpuPeriod: 100_000 });
    expect(mergeLimits(old, { pidsLimit: "-1", cpuShares: "0" }, cpus)).toEqual({ memory: 64 << 20 });
    // --memory-swap alone goes with the memory limit the container has
    expect(mergeLimits(old, { memorySwap: "256m" }, cpus)).toEqual({ ...old, memorySwap: 256 << 20 });
  });

  test("--cpu-quota alone keeps the period, --cpu-period alone the quota; --memory-reservation", () => {
    const old = { cpuPeriod: 50_000, cpuQuota: 25_000 };
    expect(mergeLimits(old, { cpuQuota: "40000" }, cpus)).toEqual({ cpuPeriod: 50_000, cpuQuota: 40_000, cpuBandwidthBy: "--cpu-quota" });
    expect(mergeLimits(old, { cpuPeriod: "200000" }, cpus)).toEqual({ cpuPeriod: 200_000, cpuQuota: 25_000, cpuBandwidthBy: "--cpu-quota" });
    expect(mergeLimits({}, { cpuQuota: "40000" }, cpus)).toEqual({ cpuPeriod: 100_000, cpuQuota: 40_000, cpuBandwidthBy: "--cpu-quota" });
    expect(mergeLimits({ cpuPeriod: 100_000, cpuQuota: 40_000, cpuBandwidthBy: "--cpu-quota" }, { cpus: "0.5" }, cpus)).toEqual({ cpuPeriod: 100_000, cpuQuota: 50_000 });
    expect(mergeLimits({ memory: 64 << 20 }, { memoryReservation: "32m" }, cpus)).toEqual({ memory: 64 << 20, memoryReservation: 32 << 20 });
  });

  test("checked as run checks them, and against the limits kept", () => {
    expect(thrown(() => mergeLimits({}, { memory: "1k" }, cpus)).message).toBe("--memory 1k: the minimum is 6m");
    expect(thrown(() => mergeLimits({}, { cpus: "3" }, cpus)).message).toBe("--cpus 3: expected a number from 0.01 to 2 (this host has 2 CPUs)");
    expect(thrown(() => mergeLimits({}, { memorySwap: "1g" }, cpus)).message).toBe("--memory-swap needs --memory (the container has no memory limit)");
    expect(thrown(() => mergeLimits({ memory: 64 << 20, memorySwap: 128 << 20 }, { memory: "256m" }, cpus)).message).toBe(
      "--memory 256m: more than the container's memory plus swap limit (128 MiB); give --memory-swap too",
    );
  });

  test("v1: a memory plus swap limit that grows is written before the memory limit, one that shrinks after", () => {
    const settings = [
      { file: "memory.limit_in_bytes", value: "268435456", flag: "--memory" },
      { file: "memory.memsw.limit_in_bytes", value: "536870912", flag: "--memory-swap" },
    ];
    expect(memoryFirstOrLast(settings, "134217728\n").map((s) => s.file)).toEqual(["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]);
    expect(memoryFirstOrLast(settings, "9223372036854771712\n").map((s) => s.file)).toEqual(["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]);
    expect(memoryFirstOrLast([settings[0]!, { ...settings[1]!, value: "-1" }], "134217728").map((s) => s.file)).toEqual(["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]);
  });
});
