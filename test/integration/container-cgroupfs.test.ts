// /sys/fs/cgroup inside a container, as docker and podman show it with a private cgroup
// namespace: the container's own cgroup as the root, read-only (read-write with --privileged).
// JVMs, Go, Node and .NET read their limits there. Also what else docker gives every container
// that such runtimes read: a 64m /dev/shm and HOSTNAME, HOME and PATH.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_PATH } from "../../src/container/spec.ts";
import { parseLayout } from "../../src/linux/cgroups/detect.ts";
import { cbox, cgroupfsMountPoints, isRoot, rootfsFixture, rootlessUserFixture, type RunAs } from "./helpers.ts";

const fx = rootfsFixture();
const user = rootlessUserFixture("cbox-cgfs", 1_500_000);
const layout = parseLayout(readFileSync("/proc/self/mountinfo", "utf8"));
const rootControllers = layout.version === 2 ? readFileSync(join(layout.unified!, "cgroup.controllers"), "utf8").trim().split(/\s+/) : [];
const LIMITED = ["memory", "pids", "cpu"];

/** The control files that show the container's limits, as this host's layout names them inside. */
const files =
  layout.version === 1
    ? { memory: "/sys/fs/cgroup/memory/memory.limit_in_bytes", pids: "/sys/fs/cgroup/pids/pids.max", cpu: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", cpuValue: "50000" }
    : { memory: "/sys/fs/cgroup/memory.max", pids: "/sys/fs/cgroup/pids.max", cpu: "/sys/fs/cgroup/cpu.max", cpuValue: "50000 100000" };
const noLimits =
  layout.version === 0
    ? "this host has no cgroups mounted"
    : layout.version === 1
      ? LIMITED.filter((c) => !layout.hierarchies.some((h) => h.controllers.includes(c))).map((c) => `no v1 ${c} hierarchy`).join(", ")
      : LIMITED.filter((c) => !rootControllers.includes(c)).map((c) => `cgroup2 offers no ${c}`).join(", ");

function run(args: string[], as?: RunAs) {
  const where = as ? user : fx;
  return cbox(["run", "--rm", "--root", where.store, "--rootfs", where.rootfs, ...args], { as });
}

/** The container's mounts under /sys/fs/cgroup: id, parent id, mount point, per-mount options. */
const CGROUP_MOUNTS = "awk '$5 ~ \"^/sys/fs/cgroup\" { print $1, $2, $5, $6 }' /proc/self/mountinfo";

/**
 * The mounts in use at /sys/fs/cgroup, point -> per-mount options: the last mount on it and those
 * on top of that one (with the host's /sys bound in, the host's own lie beneath).
 */
function cgroupfsInUse(lines: string): Map<string, string> {
  const mounts = lines.trim().split("\n").filter(Boolean).map((l) => l.split(" ") as [string, string, string, string]);
  const top = mounts.findLast(([, , point]) => point === "/sys/fs/cgroup");
  if (!top) return new Map();
  return new Map(mounts.filter(([id, parent]) => id === top[0] || parent === top[0]).map(([, , point, opts]) => [point, opts]));
}

/** Checks what every container on this host should see at /sys/fs/cgroup, read-only. */
function expectReadOnlyCgroupfs(flags: string[], as?: RunAs) {
  const r = run([...flags, "sh", "-c", `${CGROUP_MOUNTS}; echo --; cat /proc/self/cgroup; echo --; echo 1 > ${files.pids} && echo wrote; mkdir /sys/fs/cgroup/x && echo made; true`], as);
  expect(r.code).toBe(0);
  const [mounts, cgroups] = r.stdout.split("--\n");
  const onTop = cgroupfsInUse(mounts!);
  expect([...onTop.keys()].sort()).toEqual(cgroupfsMountPoints().sort());
  for (const [point, opts] of onTop) expect(`${point} ${opts.split(",")[0]}`).toBe(`${point} ro`);
  // In its own cgroup namespace every hierarchy's path is the root.
  const lines = cgroups!.trim().split("\n");
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) expect(l).toMatch(/^\d+:[^:]*:\/$/);
  expect(r.stdout).not.toContain("wrote");
  expect(r.stdout).not.toContain("made");
  expect(r.stderr).toContain("Read-only file system");
}

describe.skipIf(!isRoot)("/sys/fs/cgroup as root", () => {
  test.skipIf(!!noLimits)(`--memory 64m, --pids-limit 50, --cpus 0.5 read back inside${noLimits ? ` (skipped: ${noLimits})` : ""}`, () => {
    const r = run(["--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", "cat", files.memory, files.pids, files.cpu]);
    expect(r).toEqual({ code: 0, stdout: `67108864\n50\n${files.cpuValue}\n`, stderr: "" });
  });

  test.skipIf(layout.version === 0)("read-only, the root of each mount is the container's own cgroup, /proc/self/cgroup says /", () => {
    expectReadOnlyCgroupfs(["--memory", "64m"]);
  });

  test.skipIf(layout.version === 0)("no other container's cgroup is visible: the container's cgroup has no folders in it", () => {
    const dir = layout.version === 1 ? "/sys/fs/cgroup/memory/" : "/sys/fs/cgroup/";
    const r = run(["sh", "-c", `find ${dir} -mindepth 1 -type d; echo end`]);
    expect(r).toEqual({ code: 0, stdout: "end\n", stderr: "" });
  });

  test.skipIf(layout.version === 0)("--privileged: read-write, as docker has it", () => {
    const r = run(["--privileged", "sh", "-c", CGROUP_MOUNTS]);
    expect(r.code).toBe(0);
    const onTop = cgroupfsInUse(r.stdout);
    expect([...onTop.keys()].sort()).toEqual(cgroupfsMountPoints().sort());
    for (const [point, opts] of onTop) expect(`${point} ${opts.split(",")[0]}`).toBe(`${point} rw`);
  });

  test("/dev/shm is a 64m tmpfs", () => {
    const r = run(["sh", "-c", "awk '$5 == \"/dev/shm\"' /proc/self/mountinfo; df -k /dev/shm | tail -1 | awk '{ print $2 }'"]);
    expect(r.code).toBe(0);
    const [mount, size] = r.stdout.trim().split("\n");
    // After " - ": the filesystem type, the source, the superblock's options.
    const [type, , options] = mount!.split(" - ")[1]!.split(" ");
    expect(type).toBe("tmpfs");
    expect(options!.split(",")).toContain("size=65536k");
    expect(size).toBe("65536");
  });

  test("HOSTNAME, HOME and PATH are set as docker sets them", () => {
    const r = run(["--hostname", "box1", "env"]);
    expect(r.code).toBe(0);
    const env = r.stdout.trim().split("\n");
    expect(env).toContain("HOSTNAME=box1");
    expect(env).toContain("HOME=/root");
    expect(env).toContain(`PATH=${DEFAULT_PATH}`);
    const id = run(["sh", "-c", 'echo "$HOSTNAME $(hostname)"']).stdout.trim().split(" ");
    expect(id[0]).toMatch(/^[0-9a-f]{12}$/);
    expect(id[1]).toBe(id[0]);
  });
});

describe.skipIf(!isRoot)("/sys/fs/cgroup rootless (the test creates the user, so it needs root to set up)", () => {
  test.skipIf(layout.version === 0)("the container starts; /sys/fs/cgroup is there, read-only, and /proc/self/cgroup says /", () => {
    expectReadOnlyCgroupfs([], user.as);
  });

  test.skipIf(layout.version === 0)("--network host (the host's /sys bound in): its /sys/fs/cgroup is covered by the container's own, read-only", () => {
    expectReadOnlyCgroupfs(["--network", "host"], user.as);
  });
});
