// The container's /sys/fs/cgroup: what the host's mount table gives, and the ops that mount it.
import { describe, expect, test } from "bun:test";
import { cgroupView } from "../../src/linux/cgroups/mount-plan.ts";
import { cgroupFilesystem, MountFlag } from "../../src/linux/mounts.ts";

const line = (id: number, point: string, type: string, options: string, root = "/") => `${id} 20 0:${id} ${root} ${point} rw,nosuid,nodev,noexec,relatime - ${type} ${type} ${options}`;

/** This project's machines: one controller per hierarchy, name=systemd, an empty cgroup2. */
const HYBRID = [
  "20 1 8:1 / / rw,relatime - ext4 /dev/vda rw",
  line(31, "/sys/fs/cgroup", "tmpfs", "rw,mode=755"),
  line(32, "/sys/fs/cgroup/cpu", "cgroup", "rw,cpu"),
  line(33, "/sys/fs/cgroup/cpuacct", "cgroup", "rw,cpuacct"),
  line(35, "/sys/fs/cgroup/memory", "cgroup", "rw,memory"),
  line(39, "/sys/fs/cgroup/pids", "cgroup", "rw,pids"),
  line(40, "/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,name=systemd"),
  line(41, "/sys/fs/cgroup/unified", "cgroup2", "rw"),
].join("\n");

/** systemd's v1 layout: controllers mounted together, linked by each name. */
const SYSTEMD_V1 = [
  line(31, "/sys/fs/cgroup", "tmpfs", "ro,mode=755"),
  line(32, "/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,name=systemd"),
  line(33, "/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
  line(34, "/sys/fs/cgroup/net_cls,net_prio", "cgroup", "rw,net_cls,net_prio"),
  line(35, "/sys/fs/cgroup/memory", "cgroup", "rw,memory"),
].join("\n");

describe("cgroupView", () => {
  test("hybrid: a folder per v1 hierarchy, the named one by its name, no cgroup2", () => {
    expect(cgroupView(HYBRID)).toEqual({
      version: 1,
      folders: [
        { name: "cpu", options: "cpu", links: [] },
        { name: "cpuacct", options: "cpuacct", links: [] },
        { name: "memory", options: "memory", links: [] },
        { name: "pids", options: "pids", links: [] },
        { name: "systemd", options: "name=systemd", links: [] },
      ],
    });
  });

  test("comounted controllers: one folder named for them all, a link per controller", () => {
    const view = cgroupView(SYSTEMD_V1);
    expect(view).toEqual({
      version: 1,
      folders: [
        { name: "cpu,cpuacct", options: "cpu,cpuacct", links: ["cpu", "cpuacct"] },
        { name: "net_cls,net_prio", options: "net_cls,net_prio", links: ["net_cls", "net_prio"] },
        { name: "memory", options: "memory", links: [] },
        { name: "systemd", options: "name=systemd", links: [] },
      ],
    });
  });

  test("pure v2, and none", () => {
    expect(cgroupView(line(30, "/sys/fs/cgroup", "cgroup2", "rw,nsdelegate,memory_recursiveprot"))).toEqual({ version: 2 });
    expect(cgroupView("20 1 8:1 / / rw - ext4 /dev/vda rw")).toEqual({ version: 0 });
  });

  test("a hierarchy with controllers and a name is found once, by its controllers; bind mounts of sub-cgroups and repeats are left out", () => {
    const text = [
      line(32, "/sys/fs/cgroup/memory", "cgroup", "rw,memory,name=mem"),
      line(33, "/elsewhere/memory", "cgroup", "rw,memory"),
      line(34, "/sys/fs/cgroup/systemd", "cgroup", "rw,name=systemd"),
      line(35, "/x/systemd", "cgroup", "rw,name=systemd"),
      line(36, "/y/pids", "cgroup", "rw,pids", "/docker/abc"),
    ].join("\n");
    expect(cgroupView(text)).toEqual({
      version: 1,
      folders: [
        { name: "memory", options: "memory", links: [] },
        { name: "systemd", options: "name=systemd", links: [] },
      ],
    });
  });

  test("names that are not plain are not made into paths", () => {
    const text = [line(32, "/sys/fs/cgroup/memory", "cgroup", "rw,memory"), line(33, "/a", "cgroup", "rw,name=.."), line(34, "/b", "cgroup", "rw,name=."), line(35, "/c", "cgroup", "rw,name=a\\040b")].join("\n");
    expect(cgroupView(text)).toEqual({ version: 1, folders: [{ name: "memory", options: "memory", links: [] }] });
  });
});

describe("cgroupFilesystem", () => {
  const R = "/c/rootfs";
  const CG = `${R}/sys/fs/cgroup`;
  const { rdonly, nosuid, nodev, noexec, bind, remount } = MountFlag;
  const ro = rdonly | nosuid | nodev | noexec;

  test("v2: cgroup2 on /sys/fs/cgroup, read-only", () => {
    expect(cgroupFilesystem(R, { version: 2 }, { writable: false, sysFromHost: false })).toEqual([{ op: "mount", ints: [ro], strs: ["cgroup2", CG, "cgroup2", ""] }]);
  });

  test("v2 over the host's /sys: an empty read-only tmpfs first, as cgroup2 cannot go on the host's cgroup2 itself", () => {
    expect(cgroupFilesystem(R, { version: 2 }, { writable: false, sysFromHost: true })).toEqual([
      { op: "mount", ints: [ro], strs: ["tmpfs", CG, "tmpfs", "size=0,mode=755"] },
      { op: "mount", ints: [ro], strs: ["cgroup2", CG, "cgroup2", ""] },
    ]);
  });

  test("v1 over the host's /sys: the same ops (its own tmpfs is already a new filesystem)", () => {
    const view = cgroupView(SYSTEMD_V1);
    expect(cgroupFilesystem(R, view, { writable: false, sysFromHost: true })).toEqual(cgroupFilesystem(R, view, { writable: false, sysFromHost: false }));
  });

  test("v1: tmpfs, folder and mount per hierarchy, links, then the tmpfs read-only", () => {
    const ops = cgroupFilesystem(R, cgroupView(SYSTEMD_V1), { writable: false, sysFromHost: false });
    expect(ops).toEqual([
      { op: "mount", ints: [nosuid | nodev | noexec], strs: ["tmpfs", CG, "tmpfs", "mode=755"] },
      { op: "mkdir", ints: [0o755, 1], strs: [`${CG}/cpu,cpuacct`] },
      { op: "mount", ints: [ro], strs: ["cgroup", `${CG}/cpu,cpuacct`, "cgroup", "cpu,cpuacct"] },
      { op: "mkdir", ints: [0o755, 1], strs: [`${CG}/net_cls,net_prio`] },
      { op: "mount", ints: [ro], strs: ["cgroup", `${CG}/net_cls,net_prio`, "cgroup", "net_cls,net_prio"] },
      { op: "mkdir", ints: [0o755, 1], strs: [`${CG}/memory`] },
      { op: "mount", ints: [ro], strs: ["cgroup", `${CG}/memory`, "cgroup", "memory"] },
      { op: "mkdir", ints: [0o755, 1], strs: [`${CG}/systemd`] },
      { op: "mount", ints: [ro], strs: ["cgroup", `${CG}/systemd`, "cgroup", "name=systemd"] },
      { op: "symlink", strs: ["cpu,cpuacct", `${CG}/cpu`] },
      { op: "symlink", strs: ["cpu,cpuacct", `${CG}/cpuacct`] },
      { op: "symlink", strs: ["net_cls,net_prio", `${CG}/net_cls`] },
      { op: "symlink", strs: ["net_cls,net_prio", `${CG}/net_prio`] },
      { op: "mount", ints: [bind | remount | ro], strs: ["", CG, "", ""] },
    ]);
  });

  test("writable (--privileged): no read-only flag anywhere, the tmpfs left writable", () => {
    const ops = cgroupFilesystem(R, cgroupView(HYBRID), { writable: true, sysFromHost: false });
    const mounts = ops.filter((o) => o.op === "mount");
    expect(mounts).toHaveLength(6);
    for (const m of mounts) expect(Number(m.ints![0]) & (rdonly | remount)).toBe(0);
    expect(cgroupFilesystem(R, { version: 2 }, { writable: true, sysFromHost: false })).toEqual([{ op: "mount", ints: [nosuid | nodev | noexec], strs: ["cgroup2", CG, "cgroup2", ""] }]);
  });

  test("no cgroups on the host: no ops", () => {
    expect(cgroupFilesystem(R, { version: 0 }, { writable: false, sysFromHost: false })).toEqual([]);
  });
});
