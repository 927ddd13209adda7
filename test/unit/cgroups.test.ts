// The cgroup drivers against a cgroupfs-shaped tree: which files, which values, in what order.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CgroupWriteError, selfEntryFiles } from "../../src/linux/cgroups/cgroup.ts";
import { delegatedCgroup, parseLayout, unifiedPath } from "../../src/linux/cgroups/detect.ts";
import { formatBinaryBytes } from "../../src/linux/cgroups/limits.ts";
import { ALLOWED_DEVICES } from "../../src/linux/cgroups/devices.ts";
import { V1Cgroup, v1Hierarchies } from "../../src/linux/cgroups/v1.ts";
import { sharesToWeight, V2Cgroup, v2Controllers } from "../../src/linux/cgroups/v2.ts";
import { FakeCgroupfs } from "./fake-cgroupfs.ts";

const ID = "c".repeat(64);
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cbox-cgfs-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("cgroup v2", () => {
  const all = ["cpuset", "cpu", "io", "memory", "pids"];
  const limits = { memory: 32 << 20, cpuQuota: 25_000, cpuPeriod: 100_000, cpuShares: 512, pidsLimit: 20 };

  test("passes the controllers down level by level, then writes the limits, in this order", () => {
    const fs = new FakeCgroupfs(root, 2, [all]);
    const cg = new V2Cgroup(root, ID, limits, v2Controllers(all, limits), fs);
    cg.create();
    expect(fs.log).toEqual([
      "write cgroup.subtree_control +cpu +io +memory +pids",
      "mkdir cbox",
      "write cbox/cgroup.subtree_control +cpu +io +memory +pids",
      `mkdir cbox/${ID}`,
      `write cbox/${ID}/memory.max 33554432`,
      `write cbox/${ID}/memory.swap.max 33554432`,
      `write cbox/${ID}/cpu.weight ${sharesToWeight(512)}`,
      `write cbox/${ID}/cpu.max 25000 100000`,
      `write cbox/${ID}/pids.max 20`,
    ]);
    expect(cg.paths).toEqual([`${root}/cbox/${ID}`]);
    // v2 has no tasks file: cbox moves the process (cgroup.procs)
    expect(cg.selfEntry).toBeUndefined();
    expect(selfEntryFiles(cg.paths, fs)).toBeUndefined();
  });

  test("controllers already passed down are not written again; no limits, no limit files", () => {
    const fs = new FakeCgroupfs(root, 2, [all]);
    writeFileSync(join(root, "cgroup.subtree_control"), "cpu io memory pids");
    new V2Cgroup(root, ID, {}, v2Controllers(all, {}), fs).create();
    expect(fs.log).toEqual(["mkdir cbox", "write cbox/cgroup.subtree_control +cpu +io +memory +pids", `mkdir cbox/${ID}`]);
  });

  test("--cpuset-cpus adds the cpuset controller and writes cpuset.cpus first", () => {
    const fs = new FakeCgroupfs(root, 2, [all]);
    const l = { cpusetCpus: "1" };
    new V2Cgroup(root, ID, l, v2Controllers(all, l), fs).create();
    expect(fs.log.filter((l) => l.startsWith("write"))).toEqual([
      "write cgroup.subtree_control +cpuset +cpu +io +memory +pids",
      "write cbox/cgroup.subtree_control +cpuset +cpu +io +memory +pids",
      `write cbox/${ID}/cpuset.cpus 1`,
    ]);
  });

  test("memory and swap: docker's default is swap equal to memory; -1 is no swap limit; equal values mean none", () => {
    const swapFor = (extra: object) => {
      const fs = new FakeCgroupfs(join(root, String(Math.random())), 2, [all]);
      const l = { memory: 64 << 20, ...extra };
      new V2Cgroup(fs.root, ID, l, v2Controllers(all, l), fs).create();
      return fs.value(`cbox/${ID}/memory.swap.max`);
    };
    expect(swapFor({})).toBe(String(64 << 20));
    expect(swapFor({ memorySwap: -1 })).toBe("max");
    expect(swapFor({ memorySwap: 64 << 20 })).toBe("0");
    expect(swapFor({ memorySwap: 100 << 20 })).toBe(String(36 << 20));
  });

  test("without swap accounting only memory.max is written", () => {
    const fs = new FakeCgroupfs(root, 2, [all]);
    fs.missing.add("memory.swap.max");
    new V2Cgroup(root, ID, { memory: 64 << 20 }, v2Controllers(all, {}), fs).create();
    expect(fs.log.filter((l) => l.includes("memory."))).toEqual([`write cbox/${ID}/memory.max 67108864`]);
  });

  test("a value the kernel refuses names the flag, and nothing is left", () => {
    const fs = new FakeCgroupfs(root, 2, [all]);
    fs.refuse.set("cpu.max", "EINVAL");
    const cg = new V2Cgroup(root, ID, limits, v2Controllers(all, limits), fs);
    let err: unknown;
    try {
      cg.create();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CgroupWriteError);
    expect(err).toMatchObject({ flag: "--cpus", file: "cpu.max", value: "25000 100000", code: "EINVAL" });
    expect(existsSync(join(root, "cbox"))).toBe(false);
  });

  test("a controller the kernel will not pass down is done without, unless a limit needs it", () => {
    const fs = new FakeCgroupfs(root, 2, [all]);
    fs.unavailable = "cpu";
    new V2Cgroup(root, ID, { pidsLimit: 7 }, v2Controllers(all, {}), fs).create();
    expect(fs.log).toEqual(["write cgroup.subtree_control +pids", "mkdir cbox", "write cbox/cgroup.subtree_control +pids", `mkdir cbox/${ID}`, `write cbox/${ID}/pids.max 7`]);
    const other = new FakeCgroupfs(join(root, "other"), 2, [all]);
    other.unavailable = "cpu";
    const l = { cpuQuota: 50_000, cpuPeriod: 100_000 };
    expect(() => new V2Cgroup(other.root, ID, l, v2Controllers(all, l), other).create()).toThrow(CgroupWriteError);
    expect(existsSync(join(other.root, "cbox"))).toBe(false);
  });

  test("enter writes the pid; remove takes the cgroup and the empty cbox parent, and leaves a parent in use", () => {
    const fs = new FakeCgroupfs(root, 2, [all]);
    const a = new V2Cgroup(root, ID, {}, ["memory"], fs);
    const b = new V2Cgroup(root, "d".repeat(64), {}, ["memory"], fs);
    a.create();
    b.create();
    a.enter(4242);
    expect(fs.value(`cbox/${ID}/cgroup.procs`)).toBe("4242");
    writeFileSync(join(root, `cbox/${ID}/cgroup.procs`), "");
    a.remove();
    expect(existsSync(join(root, `cbox/${ID}`))).toBe(false);
    expect(existsSync(join(root, "cbox"))).toBe(true);
    b.remove();
    expect(existsSync(join(root, "cbox"))).toBe(false);
    b.remove(); // twice is harmless
  });

  test("oom kills are read from memory.events", () => {
    const fs = new FakeCgroupfs(root, 2, [all]);
    const cg = new V2Cgroup(root, ID, {}, ["memory"], fs);
    cg.create();
    expect(cg.oomKills()).toBe(0);
    writeFileSync(join(root, `cbox/${ID}/memory.events`), "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
    expect(cg.oomKills()).toBe(1);
  });

  test("a delegated base: cbox/<id> is made under it, not at the hierarchy's root", () => {
    const fs = new FakeCgroupfs(root, 2, [all]);
    const base = join(root, "user.slice");
    writeFileSync(join(root, "cgroup.subtree_control"), "cpu memory pids");
    fs.mkdir(base);
    fs.log.length = 0;
    new V2Cgroup(base, ID, { pidsLimit: 5 }, ["memory", "pids"], fs).create();
    expect(fs.log).toEqual([
      "write user.slice/cgroup.subtree_control +memory +pids",
      "mkdir user.slice/cbox",
      "write user.slice/cbox/cgroup.subtree_control +memory +pids",
      `mkdir user.slice/cbox/${ID}`,
      `write user.slice/cbox/${ID}/pids.max 5`,
    ]);
  });

  test("shares map onto weights as runc does: 2 -> 1, 1024 -> 39, 262144 -> 10000", () => {
    expect([sharesToWeight(2), sharesToWeight(1024), sharesToWeight(262144)]).toEqual([1, 39, 10000]);
  });
});

describe("cgroup v1", () => {
  const sets = [["cpu"], ["cpuacct"], ["cpuset"], ["memory"], ["devices"], ["pids"], ["freezer"], ["blkio"]];
  const hierarchies = (fs: FakeCgroupfs) => sets.map((s) => ({ mount: fs.hierarchy(s), controllers: s }));

  test("memory, cpu, cpuacct, pids, freezer and blkio for every container; each limit in its hierarchy, in order", () => {
    const fs = new FakeCgroupfs(root, 1, sets);
    const limits = { memory: 32 << 20, cpuQuota: 25_000, cpuPeriod: 100_000, cpuShares: 512, pidsLimit: 20 };
    const used = v1Hierarchies(hierarchies(fs), limits, false);
    expect(used.map((h) => h.controllers.join())).toEqual(["cpu", "cpuacct", "memory", "pids", "freezer", "blkio"]);
    const cg = new V1Cgroup(used, ID, limits, undefined, fs);
    cg.create();
    expect(fs.log).toEqual([
      "mkdir cpu/cbox",
      `mkdir cpu/cbox/${ID}`,
      `write cpu/cbox/${ID}/cpu.shares 512`,
      `write cpu/cbox/${ID}/cpu.cfs_period_us 100000`,
      `write cpu/cbox/${ID}/cpu.cfs_quota_us 25000`,
      "mkdir cpuacct/cbox",
      `mkdir cpuacct/cbox/${ID}`,
      "mkdir memory/cbox",
      `mkdir memory/cbox/${ID}`,
      `write memory/cbox/${ID}/memory.limit_in_bytes 33554432`,
      `write memory/cbox/${ID}/memory.memsw.limit_in_bytes 67108864`,
      "mkdir pids/cbox",
      `mkdir pids/cbox/${ID}`,
      `write pids/cbox/${ID}/pids.max 20`,
      "mkdir freezer/cbox",
      `mkdir freezer/cbox/${ID}`,
      "mkdir blkio/cbox",
      `mkdir blkio/cbox/${ID}`,
    ]);
    cg.enter(77);
    for (const p of cg.paths) expect(fs.read(`${p}/cgroup.procs`)).toBe("77\n");
    // v1: the container's first process (and an exec'd one) moves itself in through tasks
    expect(cg.selfEntry).toEqual(cg.paths.map((p) => `${p}/tasks`));
    expect(selfEntryFiles(cg.paths, fs)).toEqual(cg.selfEntry);
  });

  test("devices: deny everything, then allow only the standard nodes (and mknod of any)", () => {
    const fs = new FakeCgroupfs(root, 1, sets);
    const used = v1Hierarchies(hierarchies(fs), {}, true);
    expect(used.map((h) => h.controllers.join())).toEqual(["cpu", "cpuacct", "memory", "devices", "pids", "freezer", "blkio"]);
    new V1Cgroup(used, ID, {}, ALLOWED_DEVICES, fs).create();
    expect(fs.log.filter((l) => l.startsWith("write devices/"))).toEqual([
      `write devices/cbox/${ID}/devices.deny a`,
      ...["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"].map(
        (rule) => `write devices/cbox/${ID}/devices.allow ${rule}`,
      ),
    ]);
  });

  test("controllers mounted together are one hierarchy, used once", () => {
    const fs = new FakeCgroupfs(root, 1, [["cpu", "cpuacct"], ["memory"]]);
    const used = v1Hierarchies([{ mount: fs.hierarchy(["cpu", "cpuacct"]), controllers: ["cpu", "cpuacct"] }, { mount: fs.hierarchy(["memory"]), controllers: ["memory"] }], {}, false);
    const cg = new V1Cgroup(used, ID, { cpuShares: 100 }, undefined, fs);
    cg.create();
    expect(cg.paths).toEqual([`${root}/cpu,cpuacct/cbox/${ID}`, `${root}/memory/cbox/${ID}`]);
    expect(fs.value(`cpu,cpuacct/cbox/${ID}/cpu.shares`)).toBe("100");
  });

  test("a new cpuset takes its parent's memory nodes and the CPUs asked for", () => {
    const fs = new FakeCgroupfs(root, 1, sets);
    const limits = { cpusetCpus: "1-2" };
    new V1Cgroup(v1Hierarchies(hierarchies(fs), limits, false), ID, limits, undefined, fs).create();
    expect(fs.log.filter((l) => l.includes("cpuset"))).toEqual([
      "mkdir cpuset/cbox",
      "write cpuset/cbox/cpuset.cpus 0-3",
      "write cpuset/cbox/cpuset.mems 0",
      `mkdir cpuset/cbox/${ID}`,
      `write cpuset/cbox/${ID}/cpuset.cpus 1-2`,
      `write cpuset/cbox/${ID}/cpuset.mems 0`,
    ]);
  });

  test("without swap accounting only the memory limit is written", () => {
    const fs = new FakeCgroupfs(root, 1, sets);
    fs.missing.add("memory.memsw.limit_in_bytes");
    new V1Cgroup(v1Hierarchies(hierarchies(fs), {}, false), ID, { memory: 8 << 20 }, undefined, fs).create();
    expect(fs.log.filter((l) => l.startsWith("write"))).toEqual([`write memory/cbox/${ID}/memory.limit_in_bytes 8388608`]);
  });

  test("a refused value leaves no cgroup in any hierarchy", () => {
    const fs = new FakeCgroupfs(root, 1, sets);
    fs.refuse.set("pids.max", "EINVAL");
    const cg = new V1Cgroup(v1Hierarchies(hierarchies(fs), {}, false), ID, { memory: 8 << 20, pidsLimit: 3 }, undefined, fs);
    expect(() => cg.create()).toThrow(CgroupWriteError);
    for (const s of sets) expect(existsSync(join(fs.hierarchy(s), "cbox"))).toBe(false);
  });

  test("oom kills come from memory.oom_control; remove takes every hierarchy's folder", () => {
    const fs = new FakeCgroupfs(root, 1, sets);
    const cg = new V1Cgroup(v1Hierarchies(hierarchies(fs), {}, false), ID, {}, undefined, fs);
    cg.create();
    writeFileSync(join(fs.hierarchy(["memory"]), `cbox/${ID}/memory.oom_control`), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    expect(cg.oomKills()).toBe(2);
    cg.remove();
    for (const s of sets) expect(existsSync(join(fs.hierarchy(s), "cbox"))).toBe(false);
  });
});

describe("detection", () => {
  const line = (id: number, root: string, mount: string, type: string, opts: string) =>
    `${id} 25 0:${id} ${root} ${mount} rw,nosuid,nodev,noexec,relatime shared:${id} - ${type} ${type} ${opts}`;

  test("hybrid: v1 controllers plus an empty cgroup2 (this project's machines)", () => {
    const info = [
      line(30, "/", "/sys/fs/cgroup", "tmpfs", "rw,mode=755"),
      line(31, "/", "/sys/fs/cgroup/cpu", "cgroup", "rw,cpu"),
      line(32, "/", "/sys/fs/cgroup/memory", "cgroup", "rw,memory"),
      line(33, "/", "/sys/fs/cgroup/systemd", "cgroup", "rw,name=systemd"),
      line(34, "/", "/sys/fs/cgroup/unified", "cgroup2", "rw"),
    ].join("\n");
    expect(parseLayout(info)).toEqual({
      version: 1,
      hierarchies: [
        { mount: "/sys/fs/cgroup/cpu", controllers: ["cpu"] },
        { mount: "/sys/fs/cgroup/memory", controllers: ["memory"] },
      ],
      unified: "/sys/fs/cgroup/unified",
    });
  });

  test("pure v2; v1 with co-mounted controllers and a second mount of one; none", () => {
    expect(parseLayout(line(30, "/", "/sys/fs/cgroup", "cgroup2", "rw,nsdelegate"))).toEqual({ version: 2, hierarchies: [], unified: "/sys/fs/cgroup" });
    const v1 = [
      line(31, "/", "/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
      line(35, "/", "/mnt/again", "cgroup", "rw,cpu,cpuacct"),
      line(36, "/docker/x", "/mnt/sub", "cgroup", "rw,pids"),
    ].join("\n");
    expect(parseLayout(v1)).toEqual({ version: 1, hierarchies: [{ mount: "/sys/fs/cgroup/cpu,cpuacct", controllers: ["cpu", "cpuacct"] }], unified: undefined });
    expect(parseLayout(line(40, "/", "/", "ext4", "rw")).version).toBe(0);
  });

  test("escaped mount points", () => {
    expect(parseLayout(line(30, "/", "/mnt/my\\040cgroups", "cgroup2", "rw")).unified).toBe("/mnt/my cgroups");
  });

  test("the own cgroup2 path from /proc/self/cgroup", () => {
    expect(unifiedPath("4:memory:/x\n0::/user.slice/user-1000.slice/session-2.scope\n")).toBe("/user.slice/user-1000.slice/session-2.scope");
    expect(unifiedPath("4:memory:/x\n")).toBeUndefined();
  });

  test("delegation: the highest writable ancestor that can pass controllers down", () => {
    const own = "/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope";
    const mine = "/m/user.slice/user-1000.slice/user@1000.service";
    const probe = (writable: string[], files: Record<string, string>) => ({
      writable: (p: string) => writable.some((w) => p === w || p.startsWith(`${w}/`)),
      read: (p: string) => files[p],
    });
    expect(delegatedCgroup("/m", own, probe([mine], { [`${mine}/cgroup.subtree_control`]: "memory pids", [`${mine}/cgroup.procs`]: "" }))).toBe(mine);
    expect(delegatedCgroup("/m", own, probe([], {}))).toBeUndefined();
    // a writable leaf that holds processes and passes nothing down cannot be used
    const leaf = `/m${own}`;
    expect(delegatedCgroup("/m", own, probe([leaf], { [`${leaf}/cgroup.subtree_control`]: "", [`${leaf}/cgroup.procs`]: "123\n" }))).toBeUndefined();
  });

  test("bytes as people read them", () => {
    expect([formatBinaryBytes(32 << 20), formatBinaryBytes(1536 << 20), formatBinaryBytes(100)]).toEqual(["32 MiB", "1.5 GiB", "100 bytes"]);
  });
});
