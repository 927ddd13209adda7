// The OCI runtime's pure parts: config checks, runc's flag syntax, cgroup paths and settings, the plan's order.
import { describe, expect, test } from "bun:test";
import { parseRuncArgs } from "../../src/runtime/args.ts";
import { cgroupRelativePath, deviceAllowList, systemdPath } from "../../src/runtime/cgroup.ts";
import { checkConfig, type OciConfig } from "../../src/runtime/config.ts";
import { buildRuntimePlan, mountOptions, outsideMaskedFolders, runtimeCloneFlags, type RuntimeHost } from "../../src/runtime/plan.ts";
import { v1ResourceSettings, v2ResourceSettings } from "../../src/runtime/resources.ts";
import { MountFlag } from "../../src/linux/mounts.ts";
import { CloneFlag } from "../../src/linux/namespaces.ts";

function config(change: (c: any) => void = () => {}): any {
  const c: any = {
    ociVersion: "1.0.2",
    process: { user: { uid: 0, gid: 0 }, args: ["sh"], cwd: "/", env: ["PATH=/bin"] },
    root: { path: "rootfs" },
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
    linux: { namespaces: [{ type: "pid" }, { type: "mount" }] },
  };
  change(c);
  return c;
}

const refused = (change: (c: any) => void) => {
  try {
    checkConfig(config(change));
  } catch (err) {
    return (err as Error).message;
  }
  return "accepted";
};

describe("config.json checks", () => {
  test("a usual config passes; unknown properties are ignored, as the spec says", () => {
    expect(checkConfig(config((c) => (c.somethingNew = { x: 1 })))).toMatchObject({ ociVersion: "1.0.2" });
  });

  test("each mistake names its field", () => {
    expect(refused((c) => (c.ociVersion = "2.0.0"))).toBe('config.json: ociVersion: "2.0.0" is not a 1.x version of the runtime spec');
    expect(refused((c) => delete c.root)).toBe("config.json: root.path: is required");
    expect(refused((c) => (c.process.cwd = "relative"))).toBe('config.json: process.cwd: "relative" must be an absolute path');
    expect(refused((c) => (c.process.user = { uid: "root", gid: 0 }))).toBe("config.json: process.user: uid and gid must be numbers (a runtime gets ids, not names)");
    expect(refused((c) => (c.process.capabilities = { bounding: ["CAP_TEST"] }))).toBe('config.json: process.capabilities.bounding: unknown capability "CAP_TEST"');
    expect(refused((c) => (c.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 10, hard: 5 }]))).toBe("config.json: process.rlimits[0]: soft (10) is above hard (5)");
    expect(refused((c) => (c.process.rlimits = [{ type: "RLIMIT_BOGUS", soft: 1, hard: 1 }]))).toBe('config.json: process.rlimits[0].type: unknown limit "RLIMIT_BOGUS"');
    expect(refused((c) => c.mounts.push({ destination: "tmp", type: "tmpfs" }))).toBe('config.json: mounts[1].destination: "tmp" must be an absolute path');
    expect(refused((c) => c.mounts.push({ destination: "/x", options: ["rbind"] }))).toBe("config.json: mounts[1].source: a bind mount needs a source");
    expect(refused((c) => c.linux.namespaces.push({ type: "pid" }))).toBe("config.json: linux.namespaces[2]: the pid namespace is listed twice");
    expect(refused((c) => c.linux.namespaces.push({ type: "user" }))).toBe("config.json: linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
    expect(refused((c) => (c.linux.devices = [{ path: "/dev/x", type: "c" }]))).toBe("config.json: linux.devices[0]: major and minor are required");
  });

  test("what cbox cannot do is refused by name, never dropped", () => {
    expect(refused((c) => c.linux.namespaces.push({ type: "network", path: "/run/netns/x" }, { type: "user" }))).toBe("config.json: linux.namespaces: cbox does not support joining a namespace by path together with a new user namespace yet; remove the field to run with cbox");
    expect(refused((c) => (c.linux.resources = { hugepageLimits: [{ pageSize: "2MB", limit: 1 }] }))).toBe("config.json: linux.resources.hugepageLimits: cbox does not support hugepageLimits limits yet; remove the field to run with cbox");
    expect(refused((c) => (c.linux.resources = { network: { classID: 0, priorities: [] }, hugepageLimits: [] }))).toBe("accepted"); // engines' "not set"
    expect(refused((c) => (c.domainname = "example"))).toBe("config.json: domainname: cbox does not support setting the NIS domain name yet; remove the field to run with cbox");
  });
});

describe("runc's flag syntax", () => {
  const spec = { bundle: "value", b: "value", force: "bool", detach: "bool" } as const;

  test("-name and --name, a value after = or as the next word; operands after the flags", () => {
    expect(parseRuncArgs(["-b", "/x", "--force", "id", "--not-a-flag"], spec)).toEqual({ flags: { b: "/x", force: true }, rest: ["id", "--not-a-flag"] });
    expect(parseRuncArgs(["--bundle=/y", "-detach=false", "--", "-id"], spec)).toEqual({ flags: { bundle: "/y", detach: false }, rest: ["-id"] });
  });

  test("unknown flags, missing values and bad switches are one-line errors", () => {
    expect(() => parseRuncArgs(["--bundel", "x"], spec)).toThrow("unknown flag --bundel");
    expect(() => parseRuncArgs(["--bundle"], spec)).toThrow("--bundle needs a value");
    expect(() => parseRuncArgs(["--force=yes"], spec)).toThrow("--force=yes: use true or false");
  });
});

describe("cgroups of OCI containers", () => {
  test("cgroupsPath: cbox's default place, a path from the root, systemd's slice:prefix:name", () => {
    expect(cgroupRelativePath(undefined, "abc", false)).toBe("cbox-runtime/abc");
    expect(cgroupRelativePath("/kubepods/pod1/abc", "abc", false)).toBe("kubepods/pod1/abc");
    expect(cgroupRelativePath("default/abc", "abc", false)).toBe("default/abc");
    expect(() => cgroupRelativePath("/a/../../etc", "abc", false)).toThrow('linux.cgroupsPath: "/a/../../etc" must name a cgroup without ".."');
    expect(systemdPath("machine-pod1.slice:libpod:abc")).toBe("machine.slice/machine-pod1.slice/libpod-abc.scope");
    expect(systemdPath(":cri-containerd:abc")).toBe("system.slice/cri-containerd-abc.scope");
    expect(() => systemdPath("nonsense")).toThrow("is not slice:prefix:name");
  });

  test("device rules: deny all and the defaults, then allows; allow all is no limit; a deny takes its access from the same devices", () => {
    const defaults = [{ type: "c" as const, major: -1, minor: -1, access: "m" }, { type: "c" as const, major: 1, minor: 3, access: "rwm" }];
    const tun = { type: "c" as const, major: 10, minor: 200, access: "rw" };
    expect(deviceAllowList([{ allow: false, access: "rwm" }, { allow: true, ...tun }], defaults)).toEqual([...defaults, tun]);
    expect(deviceAllowList(undefined, defaults)).toEqual(defaults);
    expect(deviceAllowList([{ allow: true, access: "rwm" }], defaults)).toBeUndefined();
    // docker's list ends with a deny of /dev/fuse (10:229): "mknod any char device" stays, as on v1
    expect(deviceAllowList([{ allow: false, access: "rwm" }, { allow: true, ...tun }, { allow: false, type: "c", major: 10, minor: 229, access: "rwm" }], defaults)).toEqual([...defaults, tun]);
    expect(deviceAllowList([{ allow: false, type: "c", major: 1, minor: 3, access: "w" }], defaults)).toEqual([defaults[0], { type: "c", major: 1, minor: 3, access: "rm" }]);
    expect(() => deviceAllowList([{ allow: true, access: "rwm" }, { allow: false, type: "c", major: 10, minor: 200 }], defaults)).toThrow('linux.resources.devices[1]: a deny rule after "allow all" is not supported yet');
  });

  test("blockIO: v1's weight file as this kernel has it, throttles per device; v2's io.weight and io.max", () => {
    const b = { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }] };
    const files = (s: { file: string; value: string }[]) => s.map((x) => `${x.file}=${x.value}`);
    const bfq = (f: string) => f.startsWith("blkio.bfq.") || f.startsWith("blkio.throttle.");
    expect(files(v1ResourceSettings({ blockIO: b }, ["blkio"], bfq))).toEqual(["blkio.bfq.weight=500", "blkio.bfq.weight_device=8:0 300", "blkio.throttle.read_bps_device=8:0 1048576", "blkio.throttle.write_iops_device=8:16 100"]);
    expect(() => v1ResourceSettings({ blockIO: { weight: 500 } }, ["blkio"], (f) => f.startsWith("blkio.throttle."))).toThrow("config.json: linux.resources.blockIO.weight: this kernel's blkio controller has no weights (no CFQ or BFQ scheduler); remove the field");
    expect(files(v1ResourceSettings({ blockIO: { throttleReadBpsDevice: b.throttleReadBpsDevice } }, ["blkio"], () => false))).toEqual(["blkio.throttle.read_bps_device=8:0 1048576"]);
    expect(files(v2ResourceSettings({ blockIO: { weight: 1000, throttleReadBpsDevice: b.throttleReadBpsDevice } }, () => true))).toEqual(["io.weight=default 10000", "io.max=8:0 rbps=1048576"]);
    expect(() => v2ResourceSettings({ blockIO: { weightDevice: b.weightDevice } }, () => true)).toThrow("cgroup v2 has no leaf or per-device weights");
  });

  test("resources as control files, v1 by controller and v2, each naming its field", () => {
    const r = { memory: { limit: 100, reservation: 50, swap: 200, swappiness: 10, disableOOMKiller: true }, cpu: { shares: 512, quota: 5000, period: 10000, cpus: "0", mems: "0" }, pids: { limit: 7 } };
    const files = (s: { file: string; value: string }[]) => s.map((x) => `${x.file}=${x.value}`);
    expect(files(v1ResourceSettings(r, ["memory"], () => true))).toEqual(["memory.limit_in_bytes=100", "memory.soft_limit_in_bytes=50", "memory.memsw.limit_in_bytes=200", "memory.swappiness=10", "memory.oom_control=1"]);
    expect(files(v1ResourceSettings(r, ["cpu", "cpuacct"], () => true))).toEqual(["cpu.shares=512", "cpu.cfs_period_us=10000", "cpu.cfs_quota_us=5000"]);
    expect(files(v1ResourceSettings(r, ["cpuset"], () => true))).toEqual(["cpuset.cpus=0", "cpuset.mems=0"]);
    expect(v1ResourceSettings(r, ["pids"], () => true)).toEqual([{ file: "pids.max", value: "7", flag: "linux.resources.pids.limit" }]);
    const v2 = { memory: { limit: 100, swap: 300 }, cpu: { shares: 2, quota: 5000, period: 10000 }, pids: { limit: 0 } };
    expect(files(v2ResourceSettings(v2, () => true))).toEqual(["memory.max=100", "memory.swap.max=200", "cpu.weight=1", "cpu.max=5000 10000", "pids.max=max"]);
    expect(() => v2ResourceSettings({ memory: { swappiness: 1 } }, () => true)).toThrow("config.json: linux.resources.memory.swappiness: cgroup v2 has no such limit; remove the field");
  });
});

describe("the runtime's plan", () => {
  const host: RuntimeHost = {
    rootfs: "/b/rootfs",
    resolve: (p) => p,
    source: (s) => (s.startsWith("/") ? s : `/b/${s}`),
    isFile: () => false,
    kernelPaths: (paths) => paths.map((path) => ({ path, isDir: !path.includes("file") })),
    cgroups: { version: 2 },
    canMknod: true,
    lastCap: 40,
    joined: [],
    fifoFd: 9,
    selfEntry: ["/sys/fs/cgroup/pids/x/tasks"],
    seccomp: new BigInt64Array([6n]),
    preserveFds: 2,
  };
  const plan = (c: OciConfig) => buildRuntimePlan(c, host);
  const names = (ops: { op: string }[]) => ops.map((o) => o.op);

  test("mount options: flags, propagation and data apart", () => {
    expect(mountOptions(["ro", "nosuid", "rbind", "rprivate", "mode=755", "size=1m", "defaults"])).toEqual({ flags: MountFlag.rdonly | MountFlag.nosuid | MountFlag.bind | MountFlag.rec, propagation: [MountFlag.private | MountFlag.rec], data: "mode=755,size=1m" });
    expect(mountOptions(["ro", "rw"]).flags).toBe(0);
  });

  test("rootfsPropagation: / is rslave (rprivate if asked) while the root is set up; shared and unbindable come at the end", () => {
    const rootOps = (asked: string) => plan(config((c) => (c.linux.rootfsPropagation = asked))).filter((o) => o.op === "mount" && o.strs![1] === "/");
    const SLAVE = (1 << 19) | MountFlag.rec;
    expect(rootOps("unbindable").map((o) => o.ints![0])).toEqual([SLAVE, 1 << 17]);
    expect(rootOps("runbindable").map((o) => o.ints![0])).toEqual([SLAVE, (1 << 17) | MountFlag.rec]);
    expect(rootOps("private").map((o) => o.ints![0])).toEqual([MountFlag.private | MountFlag.rec]);
    expect(rootOps("shared").map((o) => o.ints![0])).toEqual([SLAVE, 1 << 20]);
  });

  test("a masked folder hides the masked paths under it", () => {
    const paths = [{ path: "/a", isDir: true }, { path: "/a/b", isDir: true }, { path: "/a/b/file", isDir: false }, { path: "/ab", isDir: false }];
    expect(outsideMaskedFolders(paths)).toEqual([{ path: "/a", isDir: true }, { path: "/ab", isDir: false }]);
  });

  test("clone flags: the namespaces asked for without a path; cgroup's is unshared later", () => {
    const c = config((c) => c.linux.namespaces.push({ type: "network", path: "/run/netns/x" }, { type: "cgroup" }, { type: "uts" }));
    expect(runtimeCloneFlags(c)).toBe(CloneFlag.newpid | CloneFlag.newns | CloneFlag.newuts);
  });

  test("everything that can fail comes before ready; the fifo wait after it; noNewPrivileges' filter last", () => {
    const ops = plan(config((c) => (c.process.noNewPrivileges = true)));
    const at = (name: string) => names(ops).indexOf(name);
    expect(ops[0]).toEqual({ op: "write", strs: ["/sys/fs/cgroup/pids/x/tasks", "0"] });
    expect(at("pivotRoot")).toBeLessThan(at("findExec"));
    expect(at("findExec")).toBeLessThan(at("closeFrom"));
    expect(ops[at("closeFrom")]).toEqual({ op: "closeFrom", ints: [5] });
    expect(at("capset")).toBeLessThan(at("ready"));
    expect(ops[at("ready") + 1]).toEqual({ op: "write", strs: ["/proc/self/fd/9", "0"] });
    expect(names(ops).slice(-3)).toEqual(["noNewPrivs", "seccomp", "exec"]);
  });

  test("hooks the process runs: createContainer before pivot_root, startContainer between the fifo's open and its byte", () => {
    const hookHost = { ...host, hookFiles: { statePath: "/state/hook-state.json", stateFd: 7, fifoFd: 8 } };
    const c = config((c) => (c.hooks = { createContainer: [{ path: "/usr/bin/hook", args: ["hook", "a"], env: ["X=1"], timeout: 5 }], startContainer: [{ path: "/bin/sh" }] }));
    const ops = buildRuntimePlan(c, hookHost);
    expect(ops[0]).toEqual({ op: "openDup", ints: [0, 7], strs: ["/state/hook-state.json"] });
    const created = ops.findIndex((o) => o.op === "hook");
    expect(ops[created]).toEqual({ op: "hook", ints: [7, 2, 1, 5], strs: ["/usr/bin/hook", "hook", "a", "X=1"] });
    expect(created).toBeLessThan(names(ops).indexOf("pivotRoot"));
    const ready = names(ops).indexOf("ready");
    expect(ops.slice(ready + 1, ready + 4)).toEqual([
      { op: "openDup", ints: [1, 8], strs: ["/proc/self/fd/9"] },
      { op: "hook", ints: [7, 1, 0, 0], strs: ["/bin/sh", "/bin/sh"] },
      { op: "write", strs: ["/proc/self/fd/8", "0"] },
    ]);
  });

  test("a user namespace joined by path: nothing new at clone; after the joins, the new namespaces, root's ids, then the fork into the new PID namespace", () => {
    const c = config((c) => c.linux.namespaces.push({ type: "user", path: "/proc/9/ns/user" }, { type: "network", path: "/proc/9/ns/net" }, { type: "cgroup" }));
    expect(runtimeCloneFlags(c)).toBe(0);
    const ops = buildRuntimePlan(c, { ...host, selfEntry: [], joined: [{ fd: 20, type: CloneFlag.newuser }, { fd: 21, type: CloneFlag.newnet }] });
    expect(ops.slice(0, 7)).toEqual([
      { op: "setns", ints: [20, CloneFlag.newuser] },
      { op: "setns", ints: [21, CloneFlag.newnet] },
      { op: "unshare", ints: [CloneFlag.newpid | CloneFlag.newns] },
      { op: "unshare", ints: [CloneFlag.newcgroup] },
      { op: "setgid", ints: [0] },
      { op: "setuid", ints: [0] },
      { op: "forkReport" },
    ]);
  });

  test("without noNewPrivileges the filter goes before the capabilities are dropped", () => {
    const ops = names(plan(config()));
    expect(ops.indexOf("seccomp")).toBeLessThan(ops.indexOf("dropBounding"));
    expect(ops.indexOf("seccomp")).toBeGreaterThan(ops.indexOf("closeFrom"));
    expect(ops).not.toContain("noNewPrivs");
  });

  test("a relative bind source is the bundle's; a file source gets a file target", () => {
    const ops = buildRuntimePlan(config((c) => c.mounts.push({ destination: "/etc/x", source: "conf/x", options: ["bind", "ro"] })), { ...host, isFile: (p) => p === "/b/conf/x" });
    const i = ops.findIndex((o) => o.op === "touch" && o.strs![0] === "/b/rootfs/etc/x");
    expect(ops.slice(i, i + 3)).toEqual([
      { op: "touch", ints: [0o644], strs: ["/b/rootfs/etc/x"] },
      { op: "mount", ints: [MountFlag.bind], strs: ["/b/conf/x", "/b/rootfs/etc/x", "", ""] },
      { op: "mount", ints: [MountFlag.bind | MountFlag.remount | MountFlag.rdonly], strs: ["", "/b/rootfs/etc/x", "", ""] },
    ]);
  });
});
