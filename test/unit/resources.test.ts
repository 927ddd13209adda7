// Resource flags with docker's meanings, and which cgroup (if any) a container gets on each layout.
import { describe, expect, test } from "bun:test";
import { chooseCgroup, parseCpuList, parseLimits, type CgroupHost } from "../../src/container/resources.ts";
import { V1Cgroup } from "../../src/linux/cgroups/v1.ts";
import { V2Cgroup } from "../../src/linux/cgroups/v2.ts";
import { thrown } from "./helpers.ts";

const cpus = () => [0, 1];

describe("parseLimits", () => {
  test("sizes in docker's binary units", () => {
    expect(parseLimits({ memory: "64m" }, cpus).memory).toBe(64 << 20);
    expect(parseLimits({ memory: "1g" }, cpus).memory).toBe(1 << 30);
    expect(parseLimits({ memory: "1.5G" }, cpus).memory).toBe(1536 << 20);
    expect(parseLimits({ memory: "512MiB" }, cpus).memory).toBe(512 << 20);
    expect(parseLimits({ memory: "10485760" }, cpus).memory).toBe(10485760);
    expect(parseLimits({ memory: "64m", memorySwap: "-1" }, cpus).memorySwap).toBe(-1);
    expect(parseLimits({ memory: "64m", memorySwap: "128m" }, cpus).memorySwap).toBe(128 << 20);
  });

  test("--cpus becomes a quota per 100 ms period; shares, cpuset and pids as given", () => {
    expect(parseLimits({ cpus: "0.25" }, cpus)).toEqual({ cpuQuota: 25_000, cpuPeriod: 100_000 });
    expect(parseLimits({ cpus: "2" }, cpus).cpuQuota).toBe(200_000);
    expect(parseLimits({ cpus: ".5" }, cpus).cpuQuota).toBe(50_000);
    expect(parseLimits({ cpuShares: "512", cpusetCpus: "0,1", pidsLimit: "20" }, cpus)).toEqual({ cpuShares: 512, cpusetCpus: "0,1", pidsLimit: 20 });
  });

  test("0 and -1 mean no limit, as docker reads them", () => {
    expect(parseLimits({ pidsLimit: "-1" }, cpus)).toEqual({});
    expect(parseLimits({ pidsLimit: "0", cpuShares: "0" }, cpus)).toEqual({});
  });

  test("the host's CPUs are read only when a CPU flag needs them", () => {
    let reads = 0;
    parseLimits({ memory: "64m", pidsLimit: "5" }, () => (reads++, [0]));
    expect(reads).toBe(0);
  });

  test("bad values: one line naming the flag and the value", () => {
    const cases: [object, string][] = [
      [{ memory: "12q" }, "--memory 12q: expected a size such as 64m, 1g or a number of bytes"],
      [{ memory: "-5m" }, "--memory -5m: expected a size"],
      [{ memory: "0" }, "--memory 0: expected a size"],
      [{ memory: "1m" }, "--memory 1m: the minimum is 6m"],
      [{ memorySwap: "1g" }, "--memory-swap needs --memory"],
      [{ memory: "64m", memorySwap: "32m" }, "--memory-swap 32m: memory plus swap cannot be less than --memory 64m"],
      [{ cpus: "-1" }, "--cpus -1: expected a number from 0.01 to 2 (this host has 2 CPUs)"],
      [{ cpus: "0" }, "--cpus 0: expected a number from 0.01 to 2"],
      [{ cpus: "3" }, "--cpus 3: expected a number from 0.01 to 2"],
      [{ cpus: "half" }, "--cpus half: expected a number"],
      [{ cpuShares: "1" }, "--cpu-shares 1: expected a whole number from 2 to 262144"],
      [{ cpuShares: "300000" }, "--cpu-shares 300000: expected a whole number from 2 to 262144"],
      [{ cpusetCpus: "5" }, "--cpuset-cpus 5: this host has no CPU 5 (online: 0-1)"],
      [{ cpusetCpus: "0-3" }, "--cpuset-cpus 0-3: this host has no CPU 2 (online: 0-1)"],
      [{ cpusetCpus: "1-0" }, "--cpuset-cpus 1-0: the range 1-0 goes backwards"],
      [{ cpusetCpus: "a" }, "--cpuset-cpus a: expected a CPU list such as 0-1 or 0,2"],
      [{ pidsLimit: "-2" }, "--pids-limit -2: expected a whole number (0 or -1: no limit)"],
      [{ pidsLimit: "ten" }, "--pids-limit ten: expected a whole number"],
    ];
    for (const [opts, message] of cases) expect(thrown(() => parseLimits(opts, cpus)).message).toStartWith(message);
  });

  test("CPU lists", () => {
    expect(parseCpuList("0-3,6,8-9\n")).toEqual([0, 1, 2, 3, 6, 8, 9]);
  });
});

describe("chooseCgroup", () => {
  const ID = "e".repeat(64);
  const v1 = { version: 1 as const, hierarchies: [{ mount: "/cg/memory", controllers: ["memory"] }, { mount: "/cg/pids", controllers: ["pids"] }], unified: "/cg/unified" };
  const v2 = { version: 2 as const, hierarchies: [], unified: "/cg" };
  const host = (over: Partial<CgroupHost>): CgroupHost => ({
    layout: v1,
    rootless: false,
    ownCgroup: () => "0::/user.slice/user-1000.slice/session-1.scope\n",
    controllersOf: () => ["cpu", "memory", "pids"],
    ...over,
  });

  test("root on v1 gets cbox/<id> in each hierarchy used, limits or not", () => {
    const { cgroup } = chooseCgroup(ID, {}, host({}));
    expect(cgroup).toBeInstanceOf(V1Cgroup);
    expect(cgroup!.paths).toEqual([`/cg/memory/cbox/${ID}`, `/cg/pids/cbox/${ID}`]);
  });

  test("root on v2 gets cbox/<id> at the hierarchy's root", () => {
    const { cgroup } = chooseCgroup(ID, { memory: 64 << 20 }, host({ layout: v2 }));
    expect(cgroup).toBeInstanceOf(V2Cgroup);
    expect(cgroup!.paths).toEqual([`/cg/cbox/${ID}`]);
  });

  test("a limit whose controller is missing is refused, naming the flag", () => {
    expect(thrown(() => chooseCgroup(ID, { cpuQuota: 1000, cpuPeriod: 100_000 }, host({}))).message).toBe("--cpus: the cpu cgroup controller is not mounted on this host");
    expect(thrown(() => chooseCgroup(ID, { cpusetCpus: "0" }, host({ layout: v2 }))).message).toStartWith("--cpuset-cpus: the cpuset cgroup controller is not enabled in cgroup2");
  });

  test("an ordinary user on v1: no cgroup without limits; a limit is refused", () => {
    expect(chooseCgroup(ID, {}, host({ rootless: true }))).toEqual({});
    expect(thrown(() => chooseCgroup(ID, { pidsLimit: 5 }, host({ rootless: true }))).message).toBe(
      "--pids-limit: limits for an ordinary user need cgroup v2 with delegation; this host has cgroup v1 (run as root)",
    );
  });

  test("an ordinary user on v2 without delegation: no limits, said once with how to delegate", () => {
    const choice = chooseCgroup(ID, { memory: 64 << 20 }, host({ layout: v2, rootless: true }));
    expect(choice.cgroup).toBeUndefined();
    expect(choice.warning).toContain("your cgroup /user.slice/user-1000.slice/session-1.scope is not delegated to you");
    expect(choice.warning).toContain("Delegate=yes");
    expect(chooseCgroup(ID, {}, host({ layout: v2, rootless: true }))).toEqual({});
  });

  test("no cgroups mounted: fine without limits, refused with one", () => {
    const none = { version: 0 as const, hierarchies: [] };
    expect(chooseCgroup(ID, {}, host({ layout: none }))).toEqual({});
    expect(thrown(() => chooseCgroup(ID, { memory: 64 << 20 }, host({ layout: none }))).message).toBe("--memory: this host has no cgroups mounted, so limits are not possible");
  });
});

describe("parseLimits: --memory-reservation, --cpu-period, --cpu-quota", () => {
  test("a reservation is a size, never above --memory", () => {
    expect(parseLimits({ memoryReservation: "32m" }, cpus).memoryReservation).toBe(32 << 20);
    expect(parseLimits({ memory: "64m", memoryReservation: "64m" }, cpus).memoryReservation).toBe(64 << 20);
    expect(thrown(() => parseLimits({ memory: "64m", memoryReservation: "65m" }, cpus)).message).toBe("--memory-reservation 65m: above --memory 64m; a reservation is a floor under the limit");
  });
  test("period and quota in microseconds; the period defaults to 100 ms, the quota to none", () => {
    expect(parseLimits({ cpuQuota: "50000" }, cpus)).toEqual({ cpuPeriod: 100000, cpuQuota: 50000, cpuBandwidthBy: "--cpu-quota" });
    expect(parseLimits({ cpuPeriod: "10000", cpuQuota: "20000" }, cpus)).toEqual({ cpuPeriod: 10000, cpuQuota: 20000, cpuBandwidthBy: "--cpu-quota" });
    expect(parseLimits({ cpuPeriod: "50000" }, cpus)).toEqual({ cpuPeriod: 50000, cpuQuota: -1, cpuBandwidthBy: "--cpu-period" });
    expect(thrown(() => parseLimits({ cpuPeriod: "999" }, cpus)).message).toBe("--cpu-period 999: expected microseconds from 1000 to 1000000");
    expect(thrown(() => parseLimits({ cpuQuota: "10" }, cpus)).message).toBe("--cpu-quota 10: expected microseconds, at least 1000 (-1: no quota)");
    expect(thrown(() => parseLimits({ cpus: "1", cpuQuota: "50000" }, cpus)).message).toBe("--cpus and --cpu-period/--cpu-quota say the same thing twice: give one or the other");
  });
  test("the control files: v1's soft limit and cfs files, v2's memory.low and cpu.max with max", async () => {
    const { v1Settings } = await import("../../src/linux/cgroups/v1.ts");
    const { v2Settings } = await import("../../src/linux/cgroups/v2.ts");
    const limits = { memoryReservation: 1 << 20, cpuPeriod: 50000, cpuQuota: -1 };
    expect(v1Settings(["memory", "cpu", "cpuacct"], limits, () => true).map((s) => `${s.file}=${s.value}`)).toEqual(["memory.soft_limit_in_bytes=1048576", "cpu.cfs_period_us=50000", "cpu.cfs_quota_us=-1"]);
    expect(v2Settings(limits, () => true).map((s) => `${s.file}=${s.value}`)).toEqual(["memory.low=1048576", "cpu.max=max 50000"]);
  });
});
