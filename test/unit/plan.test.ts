import { describe, expect, test } from "bun:test";
import { buildExecPlan, buildPlan, type ContainerDirs, describeOp, type HostFacts, type Lockdown, type StdioPlan } from "../../src/container/plan.ts";
import { capabilityMask, DEFAULT_CAPABILITIES } from "../../src/linux/capabilities.ts";
import { type ContainerSpec, DEFAULT_PATH } from "../../src/container/spec.ts";
import { devFilesystem, MountFlag, overlayPathProblem } from "../../src/linux/mounts.ts";
import type { Op } from "../../src/sys/ops.ts";
import { CloneFlag, containerCloneFlags } from "../../src/linux/namespaces.ts";
import type { CgroupView } from "../../src/linux/cgroups/mount-plan.ts";

const V1_VIEW: CgroupView = { version: 1, folders: [{ name: "cpu,cpuacct", options: "cpu,cpuacct", links: ["cpu", "cpuacct"] }, { name: "memory", options: "memory", links: [] }] };
const ROOT_HOST: HostFacts = { userNamespace: false, canMknod: true, ttyGroupMapped: true, setgroupsAllowed: true, cgroups: V1_VIEW };
const ROOTLESS_HOST: HostFacts = { userNamespace: true, canMknod: false, ttyGroupMapped: false, setgroupsAllowed: false, cgroups: { version: 2 } };

const dirs: ContainerDirs = {
  dir: "/s/c/id",
  rootfs: "/s/c/id/rootfs",
  upper: "/s/c/id/upper",
  work: "/s/c/id/work",
  hostname: "/s/c/id/hostname",
  hosts: "/s/c/id/hosts",
  resolvConf: "/s/c/id/resolv.conf",
  live: "/s/live/id",
  log: "/s/c/id/container.log",
  exit: "/s/c/id/exit",
  attach: "/s/c/id/attach",
};
const R = dirs.rootfs;

function spec(over: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    id: "a".repeat(64),
    name: "",
    rootfs: "/images/alpine",
    command: ["sh", "-c", "echo hi"],
    env: ["PATH=/custom/bin:/bin", "HOSTNAME=aaaaaaaaaaaa", "HOME=/root"],
    workdir: "/",
    user: { uid: 1000, gid: 1001, groups: [1001, 10], home: "/root" },
    hostname: "aaaaaaaaaaaa",
    interactive: false,
    tty: false,
    remove: false,
    stopTimeout: 10,
    image: { ref: "", id: "" },
    init: false,
    volumes: [],
    tmpfs: [],
    userns: "host",
    limits: {},
    security: { privileged: false, capabilities: DEFAULT_CAPABILITIES, noNewPrivileges: false, seccomp: { kind: "default" }, readOnly: false },
    network: { mode: "bridge", ports: [] },
    ...over,
  };
}

const FILTER = [0x7fff000000000006n, 0x1234n];
const LOCKDOWN: Lockdown = { capabilities: capabilityMask(DEFAULT_CAPABILITIES), lastCap: 40, noNewPrivileges: false, seccomp: FILTER };
const MASKED = [
  { path: "/proc/kcore", isDir: false },
  { path: "/sys/firmware", isDir: true },
];
const READ_ONLY = [{ path: "/proc/sys", isDir: true }];

const plan = (s: ContainerSpec, host: HostFacts, stdio: StdioPlan = { kind: "null" }, volumeFds: number[] = [], lockdown = LOCKDOWN) =>
  buildPlan(s, dirs, host, { stdio, lowerdirs: [s.rootfs], volumeFds, lockdown, masked: MASKED, readOnly: READ_ONLY });
const mounts = (ops: Op[]) => ops.filter((o) => o.op === "mount");
const indexOf = (ops: Op[], pred: (o: Op) => boolean) => ops.findIndex(pred);
const mountOn = (ops: Op[], target: string) => ops.find((o) => o.op === "mount" && o.strs![1] === target);

for (const [label, host] of [
  ["root host", ROOT_HOST],
  ["rootless host", ROOTLESS_HOST],
] as const) {
  describe(`buildPlan on a ${label}`, () => {
    const ops = plan(spec(), host);

    test("the first mount makes everything private, before every other mount", () => {
      const all = mounts(ops);
      expect(all[0]).toEqual({ op: "mount", ints: [16384 | 262144], strs: ["", "/", "", ""] });
      expect(MountFlag.rec | MountFlag.private).toBe(16384 | 262144);
      const overlay = indexOf(ops, (o) => o.op === "mount" && o.strs![2] === "overlay");
      expect(ops.indexOf(all[0]!)).toBeLessThan(overlay);
      expect(all.filter((m) => m.strs![1] === "/")).toHaveLength(1);
    });

    test("the overlay root has the exact data string", () => {
      const overlay = mountOn(ops, R)!;
      const data = "lowerdir=/images/alpine,upperdir=/s/c/id/upper,workdir=/s/c/id/work";
      expect(overlay).toEqual({
        op: "mount",
        ints: [0],
        strs: ["overlay", R, "overlay", host.userNamespace ? `${data},userxattr` : data],
      });
    });

    test("--rm: the upper layer is never synced (volatile), as it goes when the container ends", () => {
      const data = mountOn(plan(spec({ remove: true }), host), R)!.strs![3]!;
      expect(data.split(",")).toContain("volatile");
      expect(mountOn(ops, R)!.strs![3]!.split(",")).not.toContain("volatile");
    });

    test("pivot_root, then a detached umount of the old root, then rmdir", () => {
      const p = indexOf(ops, (o) => o.op === "pivotRoot");
      expect(ops[p]).toEqual({ op: "pivotRoot", strs: [R, ".cbox-oldroot"] });
      expect(ops[p - 1]).toEqual({ op: "mkdir", ints: [0o700, 1], strs: [`${R}/.cbox-oldroot`] });
      expect(ops[p + 1]).toEqual({ op: "umount", ints: [2], strs: ["/.cbox-oldroot"] });
      expect(ops[p + 2]).toEqual({ op: "rmdir", strs: ["/.cbox-oldroot"] });
      expect(ops.filter((o) => o.op === "pivotRoot")).toHaveLength(1);
    });

    test("no mount after pivot_root, and every mount targets the new root", () => {
      const p = indexOf(ops, (o) => o.op === "pivotRoot");
      expect(ops.slice(p).some((o) => o.op === "mount")).toBe(false);
      for (const m of mounts(ops).slice(1)) expect(m.strs![1]!.startsWith(R)).toBe(true);
    });

    test("hostname, hosts and resolv.conf are bound into /etc", () => {
      for (const [src, name] of [
        [dirs.hostname, "hostname"],
        [dirs.hosts, "hosts"],
        [dirs.resolvConf, "resolv.conf"],
      ]) {
        const target = `${R}/etc/${name}`;
        const m = indexOf(ops, (o) => o.op === "mount" && o.strs![1] === target);
        expect(ops[m]).toEqual({ op: "mount", ints: [MountFlag.bind], strs: [src!, target, "", ""] });
        expect(ops[m - 1]).toEqual({ op: "touch", ints: [0o644], strs: [target] });
      }
    });

    test("the user's setgid comes before its setuid; closeFrom(3) before exec", () => {
      const g = ops.findLastIndex((o) => o.op === "setgid");
      const u = ops.findLastIndex((o) => o.op === "setuid");
      expect(ops[g]).toEqual({ op: "setgid", ints: [1001] });
      expect(ops[u]).toEqual({ op: "setuid", ints: [1000] });
      expect(g).toBeLessThan(u);
      expect(g).toBeGreaterThan(indexOf(ops, (o) => o.op === "pivotRoot"));
      expect(ops.at(-2)).toEqual({ op: "closeFrom", ints: [3] });
    });

    test("setgroups is present only when allowed, before setgid", () => {
      const s = indexOf(ops, (o) => o.op === "setgroups");
      if (host.setgroupsAllowed) {
        expect(ops[s]).toEqual({ op: "setgroups", ints: [1001, 10] });
        expect(s).toBeLessThan(indexOf(ops, (o) => o.op === "setgid"));
      } else {
        expect(s).toBe(-1);
      }
    });

    test("exec is last: [argc, envc] and [PATH, ...argv, ...env]", () => {
      const s = spec();
      expect(ops.at(-1)).toEqual({
        op: "exec",
        ints: [3, 3],
        strs: ["/custom/bin:/bin", "sh", "-c", "echo hi", ...s.env],
      });
      expect(ops.filter((o) => o.op === "exec")).toHaveLength(1);
    });

    test("pdeathsig(SIGKILL) first; sethostname and loopbackUp before pivot_root", () => {
      expect(ops[0]).toEqual({ op: "pdeathsig", ints: [9] });
      const p = indexOf(ops, (o) => o.op === "pivotRoot");
      expect(indexOf(ops, (o) => o.op === "sethostname")).toBeLessThan(p);
      expect(ops.find((o) => o.op === "sethostname")).toEqual({ op: "sethostname", strs: ["aaaaaaaaaaaa"] });
      expect(indexOf(ops, (o) => o.op === "loopbackUp")).toBeLessThan(p);
    });
  });
}

describe("buildPlan devices", () => {
  const devs: [string, number, number][] = [
    ["null", 1, 3],
    ["zero", 1, 5],
    ["full", 1, 7],
    ["random", 1, 8],
    ["urandom", 1, 9],
    ["tty", 5, 0],
  ];

  test("root: mknod of character devices with their majors and minors", () => {
    const ops = plan(spec(), ROOT_HOST);
    const nodes = ops.filter((o) => o.op === "mknod");
    expect(nodes).toEqual(
      devs.map(([name, major, minor]) => ({ op: "mknod", ints: [0o020000 | 0o666, major, minor], strs: [`${R}/dev/${name}`] })),
    );
    expect(ops.some((o) => o.op === "mount" && o.strs![0]!.startsWith("/dev/"))).toBe(false);
  });

  test("rootless: touch then bind of the host's /dev/* instead of mknod", () => {
    const ops = plan(spec(), ROOTLESS_HOST);
    expect(ops.some((o) => o.op === "mknod")).toBe(false);
    for (const [name] of devs) {
      const target = `${R}/dev/${name}`;
      const i = indexOf(ops, (o) => o.op === "touch" && o.strs![0] === target);
      expect(ops[i]).toEqual({ op: "touch", ints: [0o666], strs: [target] });
      expect(ops[i + 1]).toEqual({ op: "mount", ints: [MountFlag.bind], strs: [`/dev/${name}`, target, "", ""] });
    }
  });

  test("the devices come after the /dev tmpfs", () => {
    for (const host of [ROOT_HOST, ROOTLESS_HOST]) {
      const ops = plan(spec(), host);
      const tmpfs = indexOf(ops, (o) => o.op === "mount" && o.strs![1] === `${R}/dev`);
      expect(ops[tmpfs]!.strs).toEqual(["tmpfs", `${R}/dev`, "tmpfs", "mode=755,size=65536k"]);
      const firstDev = indexOf(ops, (o) => (o.op === "mknod" || o.op === "touch") && o.strs![0] === `${R}/dev/null`);
      expect(firstDev).toBeGreaterThan(tmpfs);
    }
  });

  test("devpts gets gid=5 only when the tty group is mapped", () => {
    const pts = (ttyGroupMapped: boolean) =>
      devFilesystem(R, { canMknod: false, ttyGroupMapped }).find((o) => o.op === "mount" && o.strs![2] === "devpts")!.strs![3];
    expect(pts(true)).toBe("newinstance,ptmxmode=0666,mode=0620,gid=5");
    expect(pts(false)).toBe("newinstance,ptmxmode=0666,mode=0620");
    expect(mountOn(plan(spec(), ROOTLESS_HOST), `${R}/dev/pts`)!.strs![3]).not.toContain("gid=");
    expect(mountOn(plan(spec(), ROOT_HOST), `${R}/dev/pts`)!.strs![3]).toContain("gid=5");
  });

  test("/dev/ptmx points into the new devpts", () => {
    const ops = plan(spec(), ROOT_HOST);
    expect(ops).toContainEqual({ op: "symlink", strs: ["pts/ptmx", `${R}/dev/ptmx`] });
  });
});

describe("buildPlan options", () => {
  test("stdin /dev/null (no -i, no -t): a session of its own, /dev/null onto fd 0 after pivot_root", () => {
    const ops = plan(spec(), ROOT_HOST, { kind: "null" });
    const i = indexOf(ops, (o) => o.op === "setsid");
    expect(ops.slice(i, i + 2)).toEqual([{ op: "setsid" }, { op: "openDup", ints: [0, 0], strs: ["/dev/null"] }]);
    expect(i).toBeGreaterThan(indexOf(ops, (o) => o.op === "pivotRoot"));
  });

  test("stdin inherited (-i with a pipe): only the new session", () => {
    const ops = plan(spec(), ROOT_HOST, { kind: "inherit" });
    expect(ops.filter((o) => ["setsid", "openDup", "dup2", "console"].includes(o.op))).toEqual([{ op: "setsid" }]);
  });

  test("stdin through cbox's pipe (-i otherwise): its read end onto fd 0", () => {
    const ops = plan(spec(), ROOT_HOST, { kind: "pipe", readFd: 7 });
    const i = indexOf(ops, (o) => o.op === "setsid");
    expect(ops.slice(i, i + 2)).toEqual([{ op: "setsid" }, { op: "dup2", ints: [7, 0] }]);
  });

  test("-t: the console op after setsid and pivot_root, as root before the user switch and the init", () => {
    const ops = plan(spec({ init: true }), ROOT_HOST, { kind: "tty", socket: 9, rows: 30, cols: 100 });
    const i = indexOf(ops, (o) => o.op === "console");
    expect(ops[i]).toEqual({ op: "console", ints: [9, 1000, 30, 100] });
    expect(ops[i - 1]).toEqual({ op: "setsid" });
    expect(i).toBeGreaterThan(indexOf(ops, (o) => o.op === "pivotRoot"));
    for (const later of ["setgroups", "setgid", "setuid", "closeFrom", "init"]) {
      expect(indexOf(ops, (o) => o.op === later)).toBeGreaterThan(i);
    }
    expect(ops.some((o) => o.op === "openDup")).toBe(false);
  });

  test("volumes: cloned before pivot_root onto the given fds, made and attached after it", () => {
    const volumes = [
      { source: "/srv/data", target: "/data/deep", readonly: false, isFile: false },
      { source: "/srv/app.conf", target: "/etc/app.conf", readonly: true, isFile: true },
    ];
    const ops = plan(spec({ volumes }), ROOTLESS_HOST, { kind: "null" }, [40, 41]);
    const pivot = indexOf(ops, (o) => o.op === "pivotRoot");
    const clones = ops.filter((o) => o.op === "cloneTree");
    expect(clones).toEqual([
      { op: "cloneTree", ints: [0, 40], strs: ["/srv/data"] },
      { op: "cloneTree", ints: [1, 41], strs: ["/srv/app.conf"] },
    ]);
    expect(ops.indexOf(clones[1]!)).toBeLessThan(pivot);
    const rmdir = indexOf(ops, (o) => o.op === "rmdir");
    expect(ops.slice(rmdir + 1, rmdir + 8)).toEqual([
      { op: "mkdir", ints: [0o755, 1], strs: ["/data"] },
      { op: "mkdir", ints: [0o755, 1], strs: ["/data/deep"] },
      { op: "attachTree", ints: [40], strs: ["/data/deep"] },
      { op: "mkdir", ints: [0o755, 1], strs: ["/etc"] },
      { op: "touch", ints: [0o644], strs: ["/etc/app.conf"] },
      { op: "attachTree", ints: [41], strs: ["/etc/app.conf"] },
      { op: "umask", ints: [0o022] },
    ]);
  });

  test("in a user namespace the child first takes its root ids (setgroups only where allowed)", () => {
    const firstOps = (host: HostFacts) => plan(spec(), host).slice(2, 5);
    expect(firstOps({ ...ROOTLESS_HOST, setgroupsAllowed: true })).toEqual([
      { op: "setgroups", ints: [0] },
      { op: "setgid", ints: [0] },
      { op: "setuid", ints: [0] },
    ]);
    expect(firstOps(ROOTLESS_HOST).slice(0, 2)).toEqual([
      { op: "setgid", ints: [0] },
      { op: "setuid", ints: [0] },
    ]);
    expect(plan(spec(), ROOT_HOST)[2]).toEqual({ op: "umask", ints: [0] });
  });

  test("cgroup v1: the process moves itself into each of its cgroups right after pdeathsig, before its cgroup namespace", () => {
    const files = ["/sys/fs/cgroup/cpu/cbox/x/tasks", "/sys/fs/cgroup/memory/cbox/x/tasks"];
    const s = spec();
    const ops = buildPlan(s, dirs, ROOT_HOST, { stdio: { kind: "null" }, lowerdirs: [s.rootfs], volumeFds: [], lockdown: LOCKDOWN, masked: MASKED, readOnly: READ_ONLY }, files);
    expect(ops.slice(0, 4)).toEqual([
      { op: "pdeathsig", ints: [9] },
      { op: "write", strs: [files[0]!, "0"] },
      { op: "write", strs: [files[1]!, "0"] },
      { op: "unshare", ints: [CloneFlag.newcgroup] },
    ]);
    expect(describeOp(ops[1]!)).toBe(`write "0" into ${files[0]}`);
  });

  test("the cgroup namespace is unshared first after release, once cbox has moved the child into its cgroup", () => {
    for (const host of [ROOT_HOST, ROOTLESS_HOST]) {
      expect(plan(spec(), host).slice(0, 2)).toEqual([
        { op: "pdeathsig", ints: [9] },
        { op: "unshare", ints: [CloneFlag.newcgroup] },
      ]);
    }
    expect(containerCloneFlags(true, false) & CloneFlag.newcgroup).toBe(0);
  });

  test("workdir /a/b: mkdir /a, mkdir /a/b, chdir /a/b after pivot_root", () => {
    const ops = plan(spec({ workdir: "/a/b" }), ROOT_HOST);
    const rm = indexOf(ops, (o) => o.op === "rmdir");
    const i = indexOf(ops, (o) => o.op === "mkdir" && o.strs![0] === "/a");
    expect(i).toBeGreaterThan(rm);
    expect(ops.slice(i, i + 3)).toEqual([
      { op: "mkdir", ints: [0o755, 1], strs: ["/a"] },
      { op: "mkdir", ints: [0o755, 1], strs: ["/a/b"] },
      { op: "chdir", strs: ["/a/b"] },
    ]);
  });

  test("workdir /: chdir / with no mkdir after pivot_root", () => {
    const ops = plan(spec({ workdir: "/" }), ROOT_HOST);
    const after = ops.slice(indexOf(ops, (o) => o.op === "pivotRoot"));
    expect(after.some((o) => o.op === "mkdir")).toBe(false);
    expect(after).toContainEqual({ op: "chdir", strs: ["/"] });
  });

  test("umask 0 while setting up, 022 after pivot_root", () => {
    const ops = plan(spec(), ROOT_HOST);
    const umasks = ops.filter((o) => o.op === "umask");
    expect(umasks).toEqual([
      { op: "umask", ints: [0] },
      { op: "umask", ints: [0o022] },
    ]);
    expect(ops.indexOf(umasks[1]!)).toBeGreaterThan(indexOf(ops, (o) => o.op === "pivotRoot"));
  });

  test("exec falls back to the default PATH when env has none", () => {
    const ops = plan(spec({ env: ["A=1"], command: ["true"] }), ROOT_HOST);
    expect(ops.at(-1)).toEqual({ op: "exec", ints: [1, 1], strs: [DEFAULT_PATH, "true", "A=1"] });
  });
});

describe("security", () => {
  const opsOf = (ops: Op[]) => ops.map((o) => o.op);
  const tail = (ops: Op[]) => opsOf(ops).slice(opsOf(ops).indexOf("openDup") + 1);

  test("root: the filter before the ids change, the bounding set cut, then root keeps the same set as permitted and effective", () => {
    const ops = plan(spec({ user: { uid: 0, gid: 0, groups: [0], home: "/root" } }), ROOT_HOST);
    expect(tail(ops)).toEqual(["seccomp", "dropBounding", "setgroups", "setgid", "setuid", "capset", "closeFrom", "exec"]);
    expect(ops.find((o) => o.op === "seccomp")).toEqual({ op: "seccomp", ints: FILTER });
    expect(ops.find((o) => o.op === "dropBounding")).toEqual({ op: "dropBounding", ints: [0xa80425fbn, 40] });
    expect(ops.find((o) => o.op === "capset")).toEqual({ op: "capset", ints: [0xa80425fbn, 0xa80425fbn, 0] });
  });

  test("a non-root user ends with empty permitted and effective sets, the bounding set kept", () => {
    const ops = plan(spec(), ROOT_HOST);
    expect(ops.find((o) => o.op === "capset")).toEqual({ op: "capset", ints: [0n, 0n, 0] });
    expect(ops.find((o) => o.op === "dropBounding")!.ints![0]).toBe(0xa80425fbn);
  });

  test("no-new-privileges: set after the ids change, and the filter then goes in last", () => {
    const ops = plan(spec(), ROOT_HOST, { kind: "null" }, [], { ...LOCKDOWN, noNewPrivileges: true });
    expect(tail(ops)).toEqual(["dropBounding", "setgroups", "setgid", "setuid", "capset", "noNewPrivs", "seccomp", "closeFrom", "exec"]);
  });

  test("unconfined: no seccomp op", () => {
    const ops = plan(spec(), ROOT_HOST, { kind: "null" }, [], { ...LOCKDOWN, seccomp: undefined });
    expect(opsOf(ops)).not.toContain("seccomp");
  });

  test("masked paths: files under /dev/null, folders under an empty read-only tmpfs; read-only paths bound and remounted ro", () => {
    const ops = plan(spec(), ROOT_HOST);
    const { rdonly, nosuid, nodev, noexec, bind, rec, remount } = MountFlag;
    expect(mountOn(ops, `${R}/proc/kcore`)).toEqual({ op: "mount", ints: [bind], strs: [`${R}/dev/null`, `${R}/proc/kcore`, "", ""] });
    expect(mountOn(ops, `${R}/sys/firmware`)).toEqual({ op: "mount", ints: [rdonly | nosuid | nodev | noexec], strs: ["tmpfs", `${R}/sys/firmware`, "tmpfs", "size=0"] });
    expect(mounts(ops).filter((m) => m.strs![1] === `${R}/proc/sys`)).toEqual([
      { op: "mount", ints: [bind | rec], strs: [`${R}/proc/sys`, `${R}/proc/sys`, "", ""] },
      { op: "mount", ints: [bind | remount | rdonly | nosuid | nodev | noexec], strs: ["", `${R}/proc/sys`, "", ""] },
    ]);
    // after /dev (its null is the mask) and before pivot_root
    const kcore = indexOf(ops, (o) => o === mountOn(ops, `${R}/proc/kcore`));
    expect(kcore).toBeGreaterThan(indexOf(ops, (o) => o.op === "mknod" && o.strs![0] === `${R}/dev/null`));
    expect(kcore).toBeLessThan(indexOf(ops, (o) => o.op === "pivotRoot"));
    expect(mountOn(ops, `${R}/sys`)!.ints![0]! & rdonly).toBe(rdonly);
  });

  test("--privileged: nothing masked or read-only, /sys writable", () => {
    const ops = plan(spec({ security: { ...spec().security, privileged: true } }), ROOT_HOST);
    expect(mountOn(ops, `${R}/proc/kcore`)).toBeUndefined();
    expect(mountOn(ops, `${R}/proc/sys`)).toBeUndefined();
    expect(mountOn(ops, `${R}/sys`)!.ints![0]! & MountFlag.rdonly).toBe(0);
  });

  test("--tmpfs after pivot_root and the volumes; --read-only remounts / after the workdir is made", () => {
    const tmpfs = [{ target: "/run/x", flags: MountFlag.nosuid, data: "size=1m" }];
    const volume = { source: "/h", target: "/v", readonly: false, isFile: false };
    const ops = plan(spec({ tmpfs, volumes: [volume], workdir: "/w", security: { ...spec().security, readOnly: true } }), ROOT_HOST, { kind: "null" }, [7]);
    const t = indexOf(ops, (o) => o === mountOn(ops, "/run/x"));
    expect(ops.slice(t - 2, t + 1)).toEqual([
      { op: "mkdir", ints: [0o755, 1], strs: ["/run"] },
      { op: "mkdir", ints: [0o755, 1], strs: ["/run/x"] },
      { op: "mount", ints: [MountFlag.nosuid], strs: ["tmpfs", "/run/x", "tmpfs", "size=1m"] },
    ]);
    expect(t).toBeGreaterThan(indexOf(ops, (o) => o.op === "attachTree"));
    const onRoot = (all: Op[]) => mounts(all).filter((m) => m.strs![1] === "/");
    expect(onRoot(ops)).toEqual([
      { op: "mount", ints: [MountFlag.rec | MountFlag.private], strs: ["", "/", "", ""] },
      { op: "mount", ints: [MountFlag.bind | MountFlag.remount | MountFlag.rdonly], strs: ["", "/", "", ""] },
    ]);
    expect(ops.indexOf(onRoot(ops)[1]!)).toBeGreaterThan(indexOf(ops, (o) => o.op === "chdir"));
    expect(onRoot(plan(spec(), ROOT_HOST))).toHaveLength(1);
  });
});

describe("mounts helpers", () => {
  test("overlayPathProblem flags ',' ':' and newline only", () => {
    expect(overlayPathProblem("/a/b c")).toBe("");
    expect(overlayPathProblem("/a,b")).toBe("overlayfs cannot use a path with ',' or ':' in it: /a,b");
    expect(overlayPathProblem("/a:b")).not.toBe("");
    expect(overlayPathProblem("/a\nb")).not.toBe("");
  });
});

describe("describeOp", () => {
  test("mounts: filesystem, bind and propagation", () => {
    expect(describeOp({ op: "mount", ints: [0], strs: ["proc", "/r/proc", "proc", ""] })).toBe("mount proc on /r/proc");
    expect(describeOp({ op: "mount", ints: [4096], strs: ["/dev/null", "/r/dev/null", "", ""] })).toBe(
      "bind mount /dev/null on /r/dev/null",
    );
    expect(describeOp({ op: "mount", ints: [278528], strs: ["", "/", "", ""] })).toBe("change propagation of /");
  });

  test("exec names the command, not the PATH", () => {
    expect(describeOp({ op: "exec", ints: [1, 0], strs: ["/bin", "nosuch"] })).toBe("exec nosuch");
  });

  test("id ops show their ints; other ops their strings or name", () => {
    expect(describeOp({ op: "setgroups", ints: [1, 2] })).toBe("setgroups(1, 2)");
    expect(describeOp({ op: "setuid", ints: [1000] })).toBe("setuid(1000)");
    expect(describeOp({ op: "pivotRoot", strs: ["/r", ".cbox-oldroot"] })).toBe("pivot_root into /r");
    expect(describeOp({ op: "openDup", ints: [0, 0], strs: ["/dev/null"] })).toBe("open /dev/null");
    expect(describeOp({ op: "symlink", strs: ["pts/ptmx", "/r/dev/ptmx"] })).toBe("symlink pts/ptmx /r/dev/ptmx");
    expect(describeOp({ op: "loopbackUp" })).toBe("loopbackUp");
  });

  test("given the new root, paths under it are shown as the container sees them", () => {
    const touch = { op: "touch", ints: [0o644], strs: ["/c/1/rootfs/etc/hosts"] } as const;
    expect(describeOp(touch, "/c/1/rootfs")).toBe("touch /etc/hosts");
    expect(describeOp({ op: "mount", ints: [4096], strs: ["/c/1/hosts", "/c/1/rootfs/etc/hosts", "", ""] }, "/c/1/rootfs")).toBe(
      "bind mount /c/1/hosts on /etc/hosts",
    );
    expect(describeOp(touch, "/c/1/root")).toBe("touch /c/1/rootfs/etc/hosts");
  });
});

describe("--init", () => {
  test("the init op comes last before exec, after the user switch and fd closing", () => {
    const ops = plan(spec({ init: true }), ROOT_HOST);
    expect(ops.slice(-5).map((o) => o.op)).toEqual(["setuid", "capset", "closeFrom", "init", "exec"]);
    expect(plan(spec(), ROOT_HOST).some((o) => o.op === "init")).toBe(false);
  });

  test("the init, which keeps its copy of cbox's memory, is made non-dumpable first; without it cbox's own memory is not touched", () => {
    expect(plan(spec({ init: true }), ROOT_HOST)[0]).toEqual({ op: "dumpable", ints: [0] });
    expect(plan(spec(), ROOT_HOST).some((o) => o.op === "dumpable")).toBe(false);
  });

  test("a container that keeps an init does not share cbox's memory; others do", () => {
    const vm = CloneFlag.vm;
    expect(containerCloneFlags(false, false) & vm).toBe(vm);
    expect(containerCloneFlags(true, true) & vm).toBe(0);
    expect(containerCloneFlags(true, true) & CloneFlag.newuser).toBe(CloneFlag.newuser);
    expect(containerCloneFlags(false, true) & CloneFlag.newuser).toBe(0);
  });

  test("--network host: no network namespace and no loopbackUp; others get both", () => {
    expect(containerCloneFlags(false, false, { net: true }) & CloneFlag.newnet).toBe(0);
    expect(containerCloneFlags(false, false) & CloneFlag.newnet).toBe(CloneFlag.newnet);
    const hostNet = spec({ network: { mode: "host", ports: [] } });
    expect(plan(hostNet, ROOT_HOST).some((o) => o.op === "loopbackUp")).toBe(false);
    expect(plan(spec({ network: { mode: "none", ports: [] } }), ROOT_HOST).some((o) => o.op === "loopbackUp")).toBe(true);
  });

  test("shared namespaces: none of their clone flags; --uts host never sets the host name; --network container: no loopbackUp", () => {
    const all = CloneFlag.newnet | CloneFlag.newpid | CloneFlag.newipc | CloneFlag.newuts;
    expect(containerCloneFlags(false, false, { net: true, pid: true, ipc: true, uts: true }) & all).toBe(0);
    expect(containerCloneFlags(false, false, { pid: true }) & all).toBe(CloneFlag.newnet | CloneFlag.newipc | CloneFlag.newuts);
    const utsHost = plan(spec({ namespaces: { uts: { kind: "host" } } }), ROOT_HOST);
    expect(utsHost.some((o) => o.op === "sethostname")).toBe(false);
    expect(plan(spec({}), ROOT_HOST).some((o) => o.op === "sethostname")).toBe(true);
    expect(plan(spec({ network: { mode: "container", ports: [], container: "x" } }), ROOT_HOST).some((o) => o.op === "loopbackUp")).toBe(false);
  });

  test("another container's net and ipc are joined first; its /dev/shm is copied from its mount namespace and attached", () => {
    const s = spec({ network: { mode: "container", ports: [], container: "x" } });
    const ops = buildPlan(s, dirs, ROOT_HOST, {
      stdio: { kind: "null" }, lowerdirs: [s.rootfs], volumeFds: [], lockdown: LOCKDOWN, masked: MASKED, readOnly: READ_ONLY,
      joins: [{ path: "/proc/7/ns/ipc", type: CloneFlag.newipc, fd: 20 }, { path: "/proc/7/ns/net", type: CloneFlag.newnet, fd: 21 }],
      shm: { mountNamespace: "/proc/7/ns/mnt", ownFd: 22, theirFd: 23, treeFd: 24 },
    });
    const first = ops.findIndex((o) => o.op === "openDup");
    expect(ops.slice(first, first + 9)).toEqual([
      { op: "openDup", ints: [0, 20], strs: ["/proc/7/ns/ipc"] },
      { op: "setns", ints: [20, CloneFlag.newipc] },
      { op: "openDup", ints: [0, 21], strs: ["/proc/7/ns/net"] },
      { op: "setns", ints: [21, CloneFlag.newnet] },
      { op: "openDup", ints: [0, 22], strs: ["/proc/self/ns/mnt"] },
      { op: "openDup", ints: [0, 23], strs: ["/proc/7/ns/mnt"] },
      { op: "setns", ints: [23, CloneFlag.newns] },
      { op: "cloneTree", ints: [0, 24], strs: ["/dev/shm"] },
      { op: "setns", ints: [22, CloneFlag.newns] },
    ]);
    expect(first).toBeLessThan(ops.findIndex((o) => o.op === "unshare"));
    expect(ops).toContainEqual({ op: "attachTree", ints: [24], strs: [`${R}/dev/shm`] });
    expect(ops.some((o) => o.op === "mount" && o.strs![1] === `${R}/dev/shm`)).toBe(false);
  });

  test("--network host in a user namespace binds the host's /sys (sysfs needs a network namespace of its own); as root it mounts sysfs", () => {
    const hostNet = spec({ network: { mode: "host", ports: [] } });
    const userSys = mountOn(plan(hostNet, ROOTLESS_HOST), `${R}/sys`)!;
    expect(userSys.strs!.slice(0, 3)).toEqual(["/sys", `${R}/sys`, ""]);
    expect(mountOn(plan(hostNet, ROOT_HOST), `${R}/sys`)!.strs![2]).toBe("sysfs");
    expect(mountOn(plan(spec(), ROOTLESS_HOST), `${R}/sys`)!.strs![2]).toBe("sysfs");
  });
});

describe("buildPlan /sys/fs/cgroup", () => {
  const CG = `${R}/sys/fs/cgroup`;
  const { rdonly, nosuid, nodev, noexec, bind, remount } = MountFlag;
  const onCgroup = (ops: Op[]) => mounts(ops).filter((m) => m.strs![1]!.startsWith(CG));

  for (const [label, host, s] of [
    ["root, v1", ROOT_HOST, spec()],
    ["rootless, v2", ROOTLESS_HOST, spec()],
    ["rootless on the host's network (the host's /sys bound)", ROOTLESS_HOST, spec({ network: { mode: "host", ports: [] } })],
  ] as const) {
    test(`${label}: mounted in the new cgroup namespace, over the container's /sys, before /dev and pivot_root`, () => {
      const ops = plan(s, host);
      const first = ops.indexOf(onCgroup(ops)[0]!);
      const last = ops.indexOf(onCgroup(ops).at(-1)!);
      expect(first).toBeGreaterThan(indexOf(ops, (o) => o.op === "unshare" && o.ints![0] === CloneFlag.newcgroup));
      expect(first).toBeGreaterThan(ops.findLastIndex((o) => o.op === "mount" && o.strs![1] === `${R}/sys`));
      expect(last).toBeLessThan(indexOf(ops, (o) => o.op === "mount" && o.strs![1] === `${R}/dev`));
      expect(last).toBeLessThan(indexOf(ops, (o) => o.op === "pivotRoot"));
    });
  }

  test("v2: one cgroup2 mount, read-only, nosuid, nodev, noexec; over the host's /sys an empty tmpfs beneath it", () => {
    const cgroup2: Op = { op: "mount", ints: [rdonly | nosuid | nodev | noexec], strs: ["cgroup2", CG, "cgroup2", ""] };
    expect(onCgroup(plan(spec(), ROOTLESS_HOST))).toEqual([cgroup2]);
    const hostNet = spec({ network: { mode: "host", ports: [] } });
    expect(onCgroup(plan(hostNet, ROOTLESS_HOST))).toEqual([{ op: "mount", ints: [rdonly | nosuid | nodev | noexec], strs: ["tmpfs", CG, "tmpfs", "size=0,mode=755"] }, cgroup2]);
    expect(onCgroup(plan(hostNet, { ...ROOT_HOST, cgroups: { version: 2 } }))).toEqual([cgroup2]);
  });

  test("v1: a tmpfs, a read-only mount per hierarchy, then the tmpfs made read-only", () => {
    const m = onCgroup(plan(spec(), ROOT_HOST));
    expect(m.map((o) => [o.strs![1]!.slice(CG.length), o.strs![2], o.strs![3], o.ints![0]])).toEqual([
      ["", "tmpfs", "mode=755", nosuid | nodev | noexec],
      ["/cpu,cpuacct", "cgroup", "cpu,cpuacct", rdonly | nosuid | nodev | noexec],
      ["/memory", "cgroup", "memory", rdonly | nosuid | nodev | noexec],
      ["", "", "", bind | remount | rdonly | nosuid | nodev | noexec],
    ]);
  });

  test("--privileged: read-write, as docker has it", () => {
    const privileged = spec({ security: { ...spec().security, privileged: true } });
    for (const host of [ROOT_HOST, ROOTLESS_HOST]) {
      const m = onCgroup(plan(privileged, host));
      expect(m.length).toBeGreaterThan(0);
      for (const o of m) expect(Number(o.ints![0]) & rdonly).toBe(0);
    }
  });

  test("a host without cgroups: nothing on it", () => {
    expect(onCgroup(plan(spec(), { ...ROOT_HOST, cgroups: { version: 0 } }))).toEqual([]);
  });
});

describe("buildExecPlan", () => {
  const user = { uid: 1000, gid: 1001, groups: [1001, 10], home: "/home/u" };
  const namespaces = [
    { fd: 5, type: CloneFlag.newuser },
    { fd: 6, type: CloneFlag.newpid },
    { fd: 7, type: CloneFlag.newns },
  ];
  const exec = { namespaces, user, workdir: "/srv", command: ["ls", "-l"], env: ["PATH=/bin", "A=1"], setgroupsAllowed: true, lockdown: LOCKDOWN };

  test("cgroup v1: it moves itself into the container's cgroups before it joins any namespace", () => {
    const files = ["/sys/fs/cgroup/cpu/cbox/x/tasks", "/sys/fs/cgroup/pids/cbox/x/tasks"];
    const ops = buildExecPlan(exec, { kind: "null" }, files);
    expect(ops.slice(1, 5)).toEqual([
      { op: "pdeathsig", ints: [9] },
      { op: "write", strs: [files[0]!, "0"] },
      { op: "write", strs: [files[1]!, "0"] },
      { op: "setns", ints: [5, CloneFlag.newuser] },
    ]);
  });

  test("joins the namespaces in the order given, forks into the PID namespace, then becomes the user and execs", () => {
    expect(buildExecPlan(exec, { kind: "null" })).toEqual([
      { op: "dumpable", ints: [0] },
      { op: "pdeathsig", ints: [9] },
      { op: "setns", ints: [5, CloneFlag.newuser] },
      { op: "setns", ints: [6, CloneFlag.newpid] },
      { op: "setns", ints: [7, CloneFlag.newns] },
      { op: "init" },
      { op: "setsid" },
      { op: "openDup", ints: [0, 0], strs: ["/dev/null"] },
      { op: "chdir", strs: ["/srv"] },
      { op: "seccomp", ints: FILTER },
      { op: "dropBounding", ints: [LOCKDOWN.capabilities, 40] },
      { op: "setgroups", ints: [1001, 10] },
      { op: "setgid", ints: [1001] },
      { op: "setuid", ints: [1000] },
      { op: "capset", ints: [0n, 0n, 0] },
      { op: "closeFrom", ints: [3] },
      { op: "exec", ints: [2, 2], strs: ["/bin", "ls", "-l", "PATH=/bin", "A=1"] },
    ]);
  });

  test("-t: the terminal is opened after the fork, by the process that becomes the command; no setgroups where denied", () => {
    const plan = buildExecPlan({ ...exec, setgroupsAllowed: false }, { kind: "tty", socket: 9, rows: 24, cols: 80 });
    const names = plan.map((o) => o.op);
    expect(names.indexOf("console")).toBeGreaterThan(names.indexOf("init"));
    expect(plan.find((o) => o.op === "console")).toEqual({ op: "console", ints: [9, 1000, 24, 80] });
    expect(names).not.toContain("setgroups");
  });

  test("describeOp names a failed setns", () => {
    expect(describeOp({ op: "setns", ints: [5, CloneFlag.newuser] })).toBe("join the container's namespaces");
  });
});
