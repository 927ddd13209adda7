// cbox as an OCI runtime (cbox-runtime): bundles made here, run through runc's command line.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { baseEnv, cboxBin, cgroupMounts, isRoot, rootfsFixture, type Result } from "./helpers.ts";

const fx = rootfsFixture();
const runtimeLink = () => {
  const link = join(fx.work, "cbox-runtime");
  if (!existsSync(link)) symlinkSync(cboxBin, link);
  return link;
};
const stateRoot = () => join(fx.work, "runtime-state");
let bundleCount = 0;

/** cbox-runtime with this file's state root, to the end. */
function rt(args: string[]): Result {
  const res = Bun.spawnSync([runtimeLink(), "--root", stateRoot(), ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: baseEnv() });
  return { code: res.exitCode ?? -1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

/**
 * create and exec --detach: the process keeps the stdio it is given (as with runc), so it gets
 * files here (out and out.err): a pipe would keep this call waiting until the process ends.
 */
function rtLeaving(args: string[], out: string): Result {
  const res = Bun.spawnSync([runtimeLink(), "--root", stateRoot(), ...args], { stdin: "ignore", stdout: Bun.file(out), stderr: Bun.file(`${out}.err`), env: baseEnv() });
  return { code: res.exitCode ?? -1, stdout: readFileSync(out, "utf8"), stderr: readFileSync(`${out}.err`, "utf8") };
}

function rtCreate(args: string[], out: string): Result {
  return rtLeaving(["create", ...args], out);
}

/** A config.json as engines write them: namespaces, the usual mounts, a few capabilities. */
function config(args: string[], change: (c: any) => void = () => {}): any {
  const c: any = {
    ociVersion: "1.0.2",
    process: {
      user: { uid: 0, gid: 0 },
      args,
      env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: Object.fromEntries(["bounding", "effective", "permitted"].map((set) => [set, ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]])),
      noNewPrivileges: true,
    },
    root: { path: fx.rootfs },
    hostname: "oci-box",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    ],
    linux: {
      namespaces: ["pid", "network", "ipc", "uts", "mount"].map((type) => ({ type })),
      maskedPaths: ["/proc/kcore", "/proc/keys", "/sys/firmware"],
      readonlyPaths: ["/proc/sys", "/proc/sysrq-trigger"],
      resources: { devices: [{ allow: false, access: "rwm" }] },
    },
  };
  change(c);
  return c;
}

/** A bundle folder holding config.json; the root is the fixture's rootfs (absolute path). */
function bundle(c: any): string {
  const dir = join(fx.work, `bundle-${++bundleCount}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "config.json"), JSON.stringify(c));
  return dir;
}

/** Every cgroup folder cbox-runtime made by default: [] when none is left. */
function runtimeCgroups(): string[] {
  return cgroupMounts().flatMap((m) => (existsSync(join(m, "cbox-runtime")) ? [join(m, "cbox-runtime"), ...readdirSync(join(m, "cbox-runtime")).map((n) => join(m, "cbox-runtime", n))] : []));
}

function status(id: string): string {
  return JSON.parse(rt(["state", id]).stdout).status;
}

afterEach(() => {
  // whatever a failed test left: containers (killed), their cgroups and state
  for (const id of rt(["list", "-q"]).stdout.split("\n").filter(Boolean)) rt(["delete", "--force", id]);
  expect(rt(["list", "-q"]).stdout).toBe("");
  expect(runtimeCgroups()).toEqual([]);
});

describe.skipIf(!isRoot)("cbox-runtime: runc's command line", () => {
  test("run: the process in its own namespaces, with the config's hostname, capabilities and exit code", () => {
    const b = bundle(config(["sh", "-c", "hostname; echo pid $$; grep CapBnd /proc/self/status; exit 3"]));
    const res = rt(["run", "--bundle", b, "r1"]);
    expect(res.stderr).toBe("");
    expect(res.stdout).toBe("oci-box\npid 1\nCapBnd:\t0000000000000421\n"); // CHOWN 0, KILL 5, NET_BIND_SERVICE 10
    expect(res.code).toBe(3);
    expect(existsSync(join(stateRoot(), "r1"))).toBe(false); // run deletes what it created
  });

  test("create waits before the program; start lets it run; state, kill and delete", async () => {
    const out = join(fx.work, "c2.out");
    const b = bundle(config(["sh", "-c", "echo started; exec sleep 60"]));
    const pidFile = join(fx.work, "c2.pid");
    const created = rtCreate(["--bundle", b, "--pid-file", pidFile, "c2"], out);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    const pid = Number(readFileSync(pidFile, "utf8"));
    const state = JSON.parse(rt(["state", "c2"]).stdout);
    expect(state).toMatchObject({ ociVersion: "1.0.2", id: "c2", status: "created", pid, bundle: b, annotations: {} });
    expect(readFileSync(out, "utf8")).toBe(""); // the program has not run
    expect(rt(["list"]).stdout).toMatch(new RegExp(`^c2 +${pid} +created +${b} `, "m"));

    expect(rt(["start", "c2"])).toMatchObject({ code: 0, stderr: "" });
    await waitFor(() => readFileSync(out, "utf8") === "started\n");
    expect(status("c2")).toBe("running");
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toBe("sleep\x0060\x00");
    expect(JSON.parse(rt(["ps", "--format", "json", "c2"]).stdout)).toEqual([pid]);
    expect(rt(["start", "c2"])).toMatchObject({ code: 125, stderr: "cbox-runtime: container c2 is running: only a created container can be started\n" });
    expect(rt(["delete", "c2"])).toMatchObject({ code: 125, stderr: "cbox-runtime: container c2 is running: stop it first, or delete --force\n" });

    expect(rt(["kill", "c2", "KILL"]).code).toBe(0);
    await waitFor(() => status("c2") === "stopped");
    expect(JSON.parse(rt(["state", "c2"]).stdout).pid).toBe(0);
    expect(rt(["delete", "c2"])).toMatchObject({ code: 0, stderr: "" });
    expect(rt(["state", "c2"])).toMatchObject({ code: 125, stderr: "cbox-runtime: container c2 does not exist\n" });
    expect(runtimeCgroups()).toEqual([]);
  });

  test("delete of a created container ends its waiting process", async () => {
    const b = bundle(config(["true"]));
    const pidFile = join(fx.work, "c3.pid");
    expect(rtCreate(["-b", b, "--pid-file", pidFile, "c3"], join(fx.work, "c3.out")).code).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(rt(["delete", "c3"]).code).toBe(0);
    await waitFor(() => !existsSync(`/proc/${pid}/stat`) || readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z"));
  });

  test("resources: memory and pids limits in the cgroup at cgroupsPath, which goes with delete", () => {
    const b = bundle(config(["true"], (c) => {
      c.linux.cgroupsPath = "/cbox-runtime/limited";
      c.linux.resources.memory = { limit: 64 << 20 };
      c.linux.resources.pids = { limit: 42 };
    }));
    expect(rtCreate(["-b", b, "c4"], join(fx.work, "c4.out")).code).toBe(0);
    const memory = cgroupMounts().find((m) => existsSync(join(m, "memory.limit_in_bytes")) || existsSync(join(m, "cgroup.controllers")))!;
    const v2 = existsSync(join(memory, "cgroup.controllers"));
    expect(readFileSync(join(memory, "cbox-runtime/limited", v2 ? "memory.max" : "memory.limit_in_bytes"), "utf8").trim()).toBe(String(64 << 20));
    const pids = cgroupMounts().find((m) => existsSync(join(m, "cbox-runtime/limited/pids.max")))!;
    expect(readFileSync(join(pids, "cbox-runtime/limited/pids.max"), "utf8").trim()).toBe("42");
    expect(rt(["delete", "c4"]).code).toBe(0);
  });

  test("blockIO throttles in the blkio (v1) or io (v2) controller", () => {
    // the disk the root file system is on: a whole disk, as blk-throttle wants
    const disk = readdirSync("/sys/block").find((name) => !/^(loop|ram|zram|nbd)/.test(name) && existsSync(`/sys/block/${name}/dev`))!;
    const [major, minor] = readFileSync(`/sys/block/${disk}/dev`, "utf8").trim().split(":").map(Number);
    const b = bundle(config(["true"], (c) => {
      c.linux.cgroupsPath = "/cbox-runtime/throttled";
      c.linux.resources.blockIO = { throttleReadBpsDevice: [{ major, minor, rate: 1048576 }] };
    }));
    expect(rtCreate(["-b", b, "io1"], join(fx.work, "io1.out"))).toMatchObject({ code: 0, stderr: "" });
    const v1 = cgroupMounts().find((m) => existsSync(join(m, "cbox-runtime/throttled/blkio.throttle.read_bps_device")));
    const file = v1 ? join(v1, "cbox-runtime/throttled/blkio.throttle.read_bps_device") : join(cgroupMounts().find((m) => existsSync(join(m, "cbox-runtime/throttled/io.max")))!, "cbox-runtime/throttled/io.max");
    expect(readFileSync(file, "utf8")).toContain(v1 ? `${major}:${minor} 1048576` : `${major}:${minor} rbps=1048576`);
    expect(rt(["delete", "io1"]).code).toBe(0);
  });

  test("mounts, masked and read-only paths, a read-only root, user, umask, cwd, rlimits, sysctl, oom_score_adj", () => {
    const shared = join(fx.work, "shared");
    mkdirSync(shared, { recursive: true });
    writeFileSync(join(shared, "note"), "from the host\n");
    const script = [
      "cat /data/note",
      "touch /data/x 2>/dev/null || echo data read-only",
      "touch /rootfile 2>/dev/null || echo root read-only",
      "touch /scratch/y && echo scratch writable",
      "wc -c < /proc/keys",
      "(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null || echo proc/sys read-only",
      "id -u; id -g; id -G",
      "umask; pwd",
      "ulimit -n",
      "cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj",
    ].join("; ");
    const b = bundle(config(["sh", "-c", script], (c) => {
      c.root.readonly = true;
      c.mounts.push({ destination: "/data", type: "bind", source: shared, options: ["rbind", "ro"] });
      c.mounts.push({ destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "size=1m"] });
      c.process.user = { uid: 1000, gid: 1000, additionalGids: [20, 30], umask: 0o027 };
      c.process.cwd = "/work/here";
      c.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 321, hard: 654 }];
      c.process.oomScoreAdj = 500;
      c.linux.sysctl = { "net.ipv4.ip_forward": "1" };
    }));
    const res = rt(["run", "-b", b, "c5"]);
    expect(res.stderr).toBe("");
    expect(res.stdout).toBe(
      ["from the host", "data read-only", "root read-only", "scratch writable", "0", "proc/sys read-only", "1000", "1000", "1000 20 30", "0027", "/work/here", "321", "1", "500", ""].join("\n"),
    );
    expect(res.code).toBe(0);
  });

  test("a user namespace with the config's mappings", () => {
    chmodSync(fx.work, 0o755); // root of the namespace (host uid 200000) must reach the rootfs
    const b = bundle(config(["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map"], (c) => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    }));
    const res = rt(["run", "-b", b, "c6"]);
    expect(res.stderr).toBe("");
    expect(res.stdout.split(/\s+/).filter(Boolean)).toEqual(["0", "0", "200000", "65536", "0", "200000", "65536"]);
  });

  test("a user namespace joined by path (a Kubernetes pod's): new namespaces owned by it, the container PID 1 of its own", async () => {
    chmodSync(fx.work, 0o755); // root of the namespace (host uid 200000) must reach the rootfs
    const maps = (c: any) => {
      c.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    };
    const sandbox = bundle(config(["sleep", "60"], (c) => (c.linux.namespaces.push({ type: "user" }), maps(c))));
    const sandboxPid = join(fx.work, "sandbox.pid");
    expect(rtCreate(["-b", sandbox, "--pid-file", sandboxPid, "sandbox"], join(fx.work, "sandbox.out")).code).toBe(0);
    expect(rt(["start", "sandbox"]).code).toBe(0);
    const spid = Number(readFileSync(sandboxPid, "utf8"));
    const out = join(fx.work, "member.out");
    const member = bundle(config(["sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/net; echo $$; sleep 60"], (c) => {
      const byPath: Record<string, string> = { user: `/proc/${spid}/ns/user`, network: `/proc/${spid}/ns/net` };
      c.linux.namespaces = [...c.linux.namespaces.map((ns: any) => (byPath[ns.type] ? { type: ns.type, path: byPath[ns.type] } : ns)), { type: "user", path: byPath.user }];
      maps(c);
    }));
    expect(rt(["run", "-b", member, "member-fg"])).toMatchObject({ code: 125, stderr: "cbox-runtime: run: a container in a user namespace joined by path is not cbox's child, so run cannot wait for it; use create and start, or run --detach\n" });
    const memberPid = join(fx.work, "member.pid");
    expect(rtCreate(["-b", member, "--pid-file", memberPid, "member"], out)).toMatchObject({ code: 0, stderr: "" });
    expect(rt(["start", "member"]).code).toBe(0);
    await waitFor(() => readFileSync(out, "utf8").split("\n").length >= 4);
    const [uidMap, net, pid] = readFileSync(out, "utf8").split("\n");
    expect(uidMap!.trim().split(/\s+/)).toEqual(["0", "200000", "65536"]);
    expect(net).toBe(readlinkOf(`/proc/${spid}/ns/net`));
    expect(pid).toBe("1");
    const mpid = Number(readFileSync(memberPid, "utf8"));
    expect(JSON.parse(rt(["state", "member"]).stdout)).toMatchObject({ status: "running", pid: mpid });
    expect(readlinkOf(`/proc/${mpid}/ns/user`)).toBe(readlinkOf(`/proc/${spid}/ns/user`));
    expect(readlinkOf(`/proc/${mpid}/ns/mnt`)).not.toBe(readlinkOf(`/proc/${spid}/ns/mnt`));
    expect(rt(["delete", "--force", "member"]).code).toBe(0);
    expect(rt(["delete", "--force", "sandbox"]).code).toBe(0);
  });

  test("seccomp in the runtime spec's format: a denied call fails with the errno asked for", () => {
    const b = bundle(config(["sh", "-c", "mkdir /tmp/d 2>&1; echo done"], (c) => {
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }] };
    }));
    const res = rt(["run", "-b", b, "c7"]);
    expect(res.stdout).toMatch(/Operation not permitted\ndone\n$/);
  });

  test("a masked folder hides what is under it, masked paths there included (the suite's linux_masked_paths)", () => {
    const root = join(fx.work, "masked-root");
    Bun.spawnSync(["cp", "-a", `${fx.rootfs}/.`, root]);
    mkdirSync(join(root, "secret/inner"), { recursive: true });
    writeFileSync(join(root, "secret/inner/file"), "hidden");
    writeFileSync(join(root, "secret-file"), "hidden");
    const b = bundle(config(["sh", "-c", "ls -A /secret | wc -l; wc -c < /secret-file"], (c) => {
      c.root.path = root;
      c.linux.maskedPaths = ["/secret", "/secret/inner", "/secret/inner/file", "/secret-file"];
    }));
    const res = rt(["run", "-b", b, "m1"]);
    expect(res).toMatchObject({ code: 0, stderr: "", stdout: "0\n0\n" });
  });

  test("rootfsPropagation unbindable: the root is bound onto itself first, made unbindable after", () => {
    const b = bundle(config(["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo | grep -o unbindable"], (c) => (c.linux.rootfsPropagation = "unbindable")));
    expect(rt(["run", "-b", b, "prop"])).toMatchObject({ code: 0, stderr: "", stdout: "unbindable\n" });
  });

  test("a filter without noNewPrivileges that refuses close_range still lets the program start", () => {
    const b = bundle(config(["echo", "started"], (c) => {
      c.process.noNewPrivileges = false;
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["close_range"], action: "SCMP_ACT_ERRNO" }] };
    }));
    expect(rt(["run", "-b", b, "s2"])).toMatchObject({ code: 0, stderr: "", stdout: "started\n" });
  });

  test("capabilities the kernel refuses are create's error, not a silent end at start", () => {
    const b = bundle(config(["true"], (c) => {
      c.process.capabilities = { bounding: ["CAP_KILL"], permitted: ["CAP_KILL"], effective: ["CAP_KILL"], inheritable: ["CAP_SYS_ADMIN"] };
    }));
    const res = rtCreate(["-b", b, "caps"], join(fx.work, "caps.out"));
    expect(res).toMatchObject({ code: 125, stderr: "cbox-runtime: capset: operation not permitted\n" });
  });

  test("a pid namespace joined by path: the second container sees the first one's processes", async () => {
    const first = bundle(config(["sleep", "60"]));
    const pidFile = join(fx.work, "p1.pid");
    expect(rtCreate(["-b", first, "--pid-file", pidFile, "p1"], join(fx.work, "p1.out")).code).toBe(0);
    expect(rt(["start", "p1"]).code).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    const second = bundle(config(["sh", "-c", "echo $$; cat /proc/1/cmdline"], (c) => {
      c.linux.namespaces = c.linux.namespaces.map((ns: any) => (ns.type === "pid" ? { type: "pid", path: `/proc/${pid}/ns/pid` } : ns));
    }));
    const res = rt(["run", "-b", second, "p2"]);
    expect(res.stderr).toBe("");
    const [own, init] = res.stdout.split("\n");
    expect(Number(own)).toBeGreaterThan(1);
    expect(init).toBe("sleep\x0060\x00");
    expect(rt(["delete", "--force", "p1"]).code).toBe(0);
  });

  test("a mount namespace joined by path is where the container sets up its root", async () => {
    const holder = Bun.spawn(["unshare", "--mount", "--propagation", "private", "sleep", "60"], { stdout: "ignore", stderr: "ignore" });
    try {
      await waitFor(() => readlinkOf(`/proc/${holder.pid}/ns/mnt`) !== readlinkOf("/proc/self/ns/mnt"));
      const b = bundle(config(["readlink", "/proc/self/ns/mnt"], (c) => {
        c.linux.namespaces = c.linux.namespaces.map((ns: any) => (ns.type === "mount" ? { type: "mount", path: `/proc/${holder.pid}/ns/mnt` } : ns));
      }));
      expect(rt(["run", "-b", b, "mnt1"])).toMatchObject({ code: 0, stderr: "", stdout: `${readlinkOf(`/proc/${holder.pid}/ns/mnt`)}\n` });
    } finally {
      holder.kill(9);
      await holder.exited;
    }
  });

  test("hooks: prestart, createRuntime, poststart and poststop run with the state on stdin", () => {
    const log = join(fx.work, "hooks.log");
    const hook = (name: string) => ({ path: "/bin/sh", args: ["sh", "-c", `read s; echo "${name} $s" >> ${log}`] });
    const b = bundle(config(["true"], (c) => {
      c.hooks = { prestart: [hook("prestart")], createRuntime: [hook("createRuntime")], poststart: [hook("poststart")], poststop: [hook("poststop")] };
    }));
    expect(rt(["run", "-b", b, "c8"]).code).toBe(0);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["prestart", "createRuntime", "poststart", "poststop"]);
    expect(JSON.parse(lines[0]!.slice("prestart ".length))).toMatchObject({ id: "c8", status: "created", bundle: b });
    expect(JSON.parse(lines[3]!.slice("poststop ".length))).toMatchObject({ id: "c8", status: "stopped" });
  });

  test("exec: a process in the container's namespaces and cgroup, with the flags' changes or a process file", async () => {
    const b = bundle(config(["sleep", "60"], (c) => (c.linux.resources.pids = { limit: 50 })));
    const pidFile = join(fx.work, "x1.pid");
    expect(rtCreate(["-b", b, "--pid-file", pidFile, "x1"], join(fx.work, "x1.out")).code).toBe(0);
    expect(rt(["start", "x1"]).code).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    const inside = rt(["exec", "x1", "sh", "-c", "hostname; cat /proc/1/cmdline; echo; cat /proc/self/cgroup | grep pids"]);
    expect(inside.stderr).toBe("");
    expect(inside.stdout).toBe(`oci-box\nsleep\x0060\x00\n${readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => l.includes("pids"))}\n`);
    const changed = rt(["exec", "--env", "FOO=bar", "--user", "1000:1000", "--cwd", "/tmp", "x1", "sh", "-c", 'echo "$FOO $(id -u) $(pwd)"; exit 7']);
    expect(changed).toMatchObject({ code: 7, stdout: "bar 1000 /tmp\n", stderr: "" });
    const processFile = join(fx.work, "process.json");
    writeFileSync(processFile, JSON.stringify({ user: { uid: 2, gid: 3 }, args: ["sh", "-c", "echo $(id -u):$(id -g) $X"], env: ["X=from-file", "PATH=/bin"], cwd: "/" }));
    expect(rt(["exec", "--process", processFile, "x1"])).toMatchObject({ code: 0, stdout: "2:3 from-file\n", stderr: "" });
    expect(rt(["exec", "x1", "/no/such"])).toMatchObject({ code: 127, stderr: 'cbox-runtime: exec "/no/such": no such file or directory\n' });
    expect(rt(["exec", "--user", "root", "x1", "true"])).toMatchObject({ code: 125, stderr: "cbox-runtime: --user root: use UID or UID:GID (numbers)\n" });

    // --detach: exec returns; the pid file names the process an engine waits for
    const execPid = join(fx.work, "x1-exec.pid");
    expect(rtLeaving(["exec", "--detach", "--pid-file", execPid, "x1", "sh", "-c", "echo detached > /tmp/mark; sleep 60"], join(fx.work, "x1-exec.out")).code).toBe(0);
    await waitFor(() => rt(["exec", "x1", "cat", "/tmp/mark"]).stdout === "detached\n");
    expect(existsSync(`/proc/${readFileSync(execPid, "utf8")}`)).toBe(true);
    expect(rt(["delete", "--force", "x1"]).code).toBe(0);
  });

  test("pause, resume, update: the freezer and new limits of a running container", () => {
    const b = bundle(config(["sleep", "60"], (c) => (c.linux.resources.pids = { limit: 50 })));
    expect(rtCreate(["-b", b, "u1"], join(fx.work, "u1.out")).code).toBe(0);
    expect(rt(["pause", "u1"])).toMatchObject({ code: 125, stderr: "cbox-runtime: container u1 is created: only a running container can be paused\n" });
    expect(rt(["start", "u1"]).code).toBe(0);
    expect(rt(["pause", "u1"])).toMatchObject({ code: 0, stderr: "" });
    expect(status("u1")).toBe("paused");
    expect(rt(["resume", "u1"])).toMatchObject({ code: 0, stderr: "" });
    expect(status("u1")).toBe("running");
    expect(rt(["update", "--pids-limit", "20", "u1"])).toMatchObject({ code: 0, stderr: "" });
    const pids = cgroupMounts().find((m) => existsSync(join(m, "cbox-runtime/u1/pids.max")))!;
    expect(readFileSync(join(pids, "cbox-runtime/u1/pids.max"), "utf8").trim()).toBe("20");
    const resources = join(fx.work, "resources.json");
    writeFileSync(resources, JSON.stringify({ pids: { limit: 30 } }));
    expect(rt(["update", "--resources", resources, "u1"]).code).toBe(0);
    expect(readFileSync(join(pids, "cbox-runtime/u1/pids.max"), "utf8").trim()).toBe("30");
    expect(rt(["update", "--pids-limit", "lots", "u1"])).toMatchObject({ code: 125, stderr: "cbox-runtime: --pids-limit lots: use a whole number\n" });
    expect(rt(["pause", "u1"]).code).toBe(0);
    expect(rt(["delete", "--force", "u1"]).code).toBe(0); // a paused container is thawed to die
  });

  test("createContainer and startContainer hooks run in the container's namespaces, the state on their stdin", () => {
    const log = join(fx.work, "inside-hooks.log");
    const b = bundle(config(["cat", "/dev/shm/started"], (c) => {
      c.hooks = {
        // before pivot_root: the runtime's paths, the container's hostname and PID namespace
        createContainer: [{ path: "/bin/sh", args: ["sh", "-c", `read s; echo "$(hostname) $$ $s" > ${log}`] }],
        // in the container: its own /bin/sh and /dev/shm, before the program
        startContainer: [{ path: "/bin/sh", args: ["sh", "-c", "echo started-by-hook > /dev/shm/started"] }],
      };
    }));
    const res = rt(["run", "-b", b, "inside"]);
    expect(res).toMatchObject({ code: 0, stderr: "", stdout: "started-by-hook\n" });
    const [host, pid, ...state] = readFileSync(log, "utf8").trim().split(" ");
    expect(host).toBe("oci-box");
    expect(Number(pid)).toBeLessThan(10); // a PID of the container's namespace
    expect(JSON.parse(state.join(" "))).toMatchObject({ id: "inside", status: "created", bundle: b });
  });

  test("a failing createContainer hook fails create; a failing startContainer hook fails start", () => {
    const failing = { path: "/bin/sh", args: ["sh", "-c", "exit 3"] };
    const early = bundle(config(["true"], (c) => (c.hooks = { createContainer: [failing] })));
    expect(rtCreate(["-b", early, "hk1"], join(fx.work, "hk1.out"))).toMatchObject({ code: 125, stderr: "cbox-runtime: hook /bin/sh: it failed (a status other than 0, or killed)\n" });
    expect(rt(["list", "-q"]).stdout).toBe("");
    const late = bundle(config(["true"], (c) => (c.hooks = { startContainer: [failing] })));
    expect(rtCreate(["-b", late, "hk2"], join(fx.work, "hk2.out")).code).toBe(0);
    expect(rt(["start", "hk2"])).toMatchObject({ code: 125, stderr: "cbox-runtime: container hk2 ended before it could start\n" });
    expect(rt(["delete", "hk2"]).code).toBe(0);
  });

  test("a failing poststart or poststop hook is a warning; the hooks after it still run", () => {
    const log = join(fx.work, "hooks-fail.log");
    const failing = { path: "/bin/sh", args: ["sh", "-c", "echo broken >&2; exit 9"] };
    const after = (name: string) => ({ path: "/bin/sh", args: ["sh", "-c", `echo ${name} >> ${log}`] });
    const b = bundle(config(["true"], (c) => (c.hooks = { poststart: [failing, after("poststart")], poststop: [failing, after("poststop")] })));
    const res = rt(["run", "-b", b, "hf"]);
    expect(res.code).toBe(0);
    expect(res.stderr).toBe("cbox-runtime: warning: hooks.poststart[0] /bin/sh: exit code 9: broken\ncbox-runtime: warning: hooks.poststop[0] /bin/sh: exit code 9: broken\n");
    expect(readFileSync(log, "utf8")).toBe("poststart\npoststop\n");
  });

  test("features, --version, and `cbox runtime` as the same command line", () => {
    const f = JSON.parse(rt(["features"]).stdout);
    expect(f).toMatchObject({ ociVersionMin: "1.0.0", linux: { namespaces: expect.arrayContaining(["pid", "user", "cgroup"]) } });
    expect(rt(["--version"]).stdout).toMatch(/^cbox-runtime version \S+\ncommit: \S+\nspec: 1\.0\.2\n$/);
    const b = bundle(config(["echo", "via cbox runtime"]));
    const res = Bun.spawnSync([cboxBin, "runtime", "--root", stateRoot(), "run", "-b", b, "c9"], { stdout: "pipe", stderr: "pipe", env: baseEnv() });
    expect(res.stdout.toString()).toBe("via cbox runtime\n");
  });
});

describe.skipIf(!isRoot)("cbox-runtime: bad input is one line, 125, and nothing left", () => {
  const cases: [string, () => string[], string][] = [
    ["a missing bundle", () => ["create", "-b", "/nowhere", "e1"], "bundle /nowhere: cannot read config.json (ENOENT); pass the bundle folder with --bundle"],
    ["an empty process.args", () => ["create", "-b", bundle(config([])), "e2"], "config.json: process.args: must hold the command, at least one string"],
    ["a hook with a relative path", () => ["create", "-b", bundle(config(["true"], (c) => (c.hooks = { createContainer: [{ path: "true" }] }))), "e3"], "config.json: hooks.createContainer[0].path: must be an absolute path"],
    ["no mount namespace", () => ["create", "-b", bundle(config(["true"], (c) => (c.linux.namespaces = [{ type: "pid" }]))), "e11"], 'config.json: linux.namespaces: cbox needs a mount namespace of the container\'s own (add {"type": "mount"})'],
    ["an unknown namespace", () => ["create", "-b", bundle(config(["true"], (c) => c.linux.namespaces.push({ type: "time" }))), "e4"], 'config.json: linux.namespaces[5].type: cbox does not support the "time" namespace yet; remove the field to run with cbox'],
    ["an id with a slash", () => ["create", "-b", bundle(config(["true"])), "../e5"], 'container id "../e5": use letters, digits and _ . + - (not starting with one of those marks)'],
    ["a terminal without a console socket", () => ["create", "-b", bundle(config(["true"], (c) => (c.process.terminal = true))), "e6"], "config.json: process.terminal is true: pass --console-socket for the terminal's master"],
    ["an unknown flag", () => ["create", "--bundel", "x", "e7"], "unknown flag --bundel"],
    ["an unknown command", () => ["frobnicate", "e8"], 'unknown command "frobnicate"; the commands: create, run, start, state, kill, delete, list, ps, exec, pause, resume, update, features'],
  ];
  for (const [what, args, message] of cases) {
    test(what, () => {
      const res = rt(args());
      expect(res).toMatchObject({ code: 125, stdout: "", stderr: `cbox-runtime: ${message}\n` });
      expect(readdirSync(stateRoot(), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)).toEqual([]);
    });
  }

  test("a missing program is create's error (127), before anything waits", () => {
    const res = rtCreate(["-b", bundle(config(["/no/such"])), "e9"], join(fx.work, "e9.out"));
    expect(res).toMatchObject({ code: 127, stderr: 'cbox-runtime: exec "/no/such": no such file or directory\n' });
    expect(rt(["run", "-b", bundle(config(["nosuch"])), "e10"])).toMatchObject({ code: 127, stderr: 'cbox-runtime: exec "nosuch": executable file not found in $PATH\n' });
  });

  test("a second container with a taken id is refused, the first untouched", () => {
    const b = bundle(config(["true"]));
    expect(rtCreate(["-b", b, "twice"], join(fx.work, "twice.out")).code).toBe(0);
    expect(rtCreate(["-b", b, "twice"], join(fx.work, "twice2.out"))).toMatchObject({ code: 125, stderr: "cbox-runtime: container twice exists already; delete it first (cbox-runtime delete twice)\n" });
    expect(status("twice")).toBe("created");
  });

  test("--log-format json: the error is a JSON line in the log, as engines read runc's", () => {
    const log = join(fx.work, "runtime.log");
    rt(["--log", log, "--log-format", "json", "state", "nope"]);
    const entry = JSON.parse(readFileSync(log, "utf8").trim().split("\n").pop()!);
    expect(entry).toMatchObject({ level: "error", msg: "container nope does not exist" });
    expect(Number.isNaN(Date.parse(entry.time))).toBe(false);
  });
});

function readlinkOf(path: string): string {
  return readlinkSync(path);
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await Bun.sleep(10);
  }
}
