// Rootless: an ordinary user the test creates runs containers in a user namespace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildRootfs, cbox, cboxCgroups, cgroupfsMountPoints, hostMounts, isRoot, maskedAndReadOnlyPaths, procStat, removeDir, tempDir, treeListing, type RunAs } from "./helpers.ts";
import { parseLayout } from "../../src/linux/cgroups/detect.ts";
import { TerminalSession } from "./terminal.ts";

const SUB_START = 231072;
const SUB_COUNT = 65536;
const users = { plain: "cbox-rl-plain", sub: "cbox-rl-sub" };

let work: string;
let savedSubuid: string;
let savedSubgid: string;
const env: Record<keyof typeof users, { as: RunAs; rootfs: string; store: string }> = {} as never;

function sh(...cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout.toString();
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

beforeAll(() => {
  if (!isRoot) return;
  work = tempDir();
  chmodSync(work, 0o755);
  savedSubuid = readOr("/etc/subuid");
  savedSubgid = readOr("/etc/subgid");
  for (const [key, name] of Object.entries(users) as [keyof typeof users, string][]) {
    Bun.spawnSync(["userdel", "-r", name], { stderr: "ignore" });
    sh("useradd", "-m", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-s", "/bin/sh", name);
    const uid = Number(sh("id", "-u", name).trim());
    const gid = Number(sh("id", "-g", name).trim());
    const as = { uid, gid, home: `/home/${name}` };
    const dir = join(work, key);
    sh("install", "-d", "-o", String(uid), "-g", String(gid), dir);
    env[key] = { as, rootfs: buildRootfs(join(dir, "rootfs"), as), store: join(dir, "store") };
  }
  const others = (text: string) => text.split("\n").filter((l) => l && !Object.values(users).some((u) => l.startsWith(`${u}:`)));
  writeFileSync("/etc/subuid", [...others(savedSubuid), `${users.sub}:${SUB_START}:${SUB_COUNT}`, ""].join("\n"));
  writeFileSync("/etc/subgid", [...others(savedSubgid), `${users.sub}:${SUB_START}:${SUB_COUNT}`, ""].join("\n"));
});

afterAll(() => {
  if (!isRoot) return;
  writeFileSync("/etc/subuid", savedSubuid);
  writeFileSync("/etc/subgid", savedSubgid);
  for (const name of Object.values(users)) Bun.spawnSync(["userdel", "-r", name], { stderr: "ignore" });
  removeDir(work);
});

function run(key: keyof typeof users, args: string[], rm = true) {
  const e = env[key];
  return cbox(["run", ...(rm ? ["--rm"] : []), "--root", e.store, "--rootfs", e.rootfs, ...args], { as: e.as });
}

const cgroupVersion = parseLayout(readFileSync("/proc/self/mountinfo", "utf8")).version;
const skipNote = (v: number) => (cgroupVersion === v ? "" : ` (skipped: this host has cgroup v${cgroupVersion})`);
const hasNewuidmap = !!Bun.which("newuidmap") && !!Bun.which("newgidmap");

describe.skipIf(!isRoot)("rootless (tests create the users, so they need root to set up)", () => {
  test("uid and gid are both 0 inside, the command is PID 1, the mounts are the container's", () => {
    const r = run("plain", ["sh", "-c", "id -u; id -g; echo $$; cut -d' ' -f5 /proc/self/mountinfo | sort | tr '\\n' ' '; true"]);
    expect(r.stderr).toBe("");
    // The devices are the host's, bound in: a user namespace cannot make device nodes.
    const devices = ["full", "null", "random", "tty", "urandom", "zero"].map((d) => `/dev/${d}`);
    const points = ["/", "/dev", ...devices, "/dev/mqueue", "/dev/pts", "/dev/shm", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc", "/sys", ...maskedAndReadOnlyPaths(), ...cgroupfsMountPoints()];
    expect(r.stdout.split("\n")).toEqual(["0", "0", "1", points.sort().join(" ") + " "]);
  });

  test("a user without subordinate ids maps only itself", () => {
    const { uid, gid } = env.plain.as;
    const r = run("plain", ["cat", "/proc/self/uid_map", "/proc/self/gid_map", "/proc/self/setgroups"]);
    const lines = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    expect(lines).toEqual([`0 ${uid} 1`, `0 ${gid} 1`, "deny"]);
  });

  test.skipIf(!hasNewuidmap)("a user with /etc/subuid and /etc/subgid ranges gets them mapped too", () => {
    const { uid, gid } = env.sub.as;
    const r = run("sub", ["cat", "/proc/self/uid_map", "/proc/self/gid_map"]);
    const lines = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    expect(lines).toEqual([`0 ${uid} 1`, `1 ${SUB_START} ${SUB_COUNT}`, `0 ${gid} 1`, `1 ${SUB_START} ${SUB_COUNT}`]);
  });

  test.skipIf(!hasNewuidmap)("chown to other ids works with ranges; the host sees the subordinate ids", () => {
    const r = run("sub", ["--name", "owned", "sh", "-c", "touch /owned && chown 1000:1000 /owned && stat -c '%u %g' /owned"], false);
    expect(r.stdout).toBe("1000 1000\n");
    const id = readFileSync(join(env.sub.store, "names", "owned"), "utf8").trim();
    const st = statSync(join(env.sub.store, "containers", id, "upper", "owned"));
    expect([st.uid, st.gid]).toEqual([SUB_START + 999, SUB_START + 999]);
    // Those files are not the user's on the host; rm still removes them, from the user namespace.
    expect(cbox(["rm", "--root", env.sub.store, "owned"], { as: env.sub.as }).code).toBe(0);
    expect(treeListing(join(env.sub.store, "containers"))).toEqual([]);
  });

  test.skipIf(cgroupVersion !== 1)(`cgroup v1${skipNote(1)}: a limit flag is refused (one line, 125, nothing made); no flag, no cgroup`, () => {
    const e = env.plain;
    const before = { store: treeListing(e.store, false), cgroups: cboxCgroups() };
    for (const flags of [["--memory", "64m"], ["--pids-limit", "10"], ["--cpus", "0.5"]]) {
      const r = run("plain", [...flags, "true"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toBe(`cbox: ${flags[0]}: limits for an ordinary user need cgroup v2 with delegation; this host has cgroup v1 (run as root)\n`);
    }
    expect({ store: treeListing(e.store, false), cgroups: cboxCgroups() }).toEqual(before);
    const r = run("plain", ["cat", "/proc/self/cgroup"]);
    expect(r.code).toBe(0);
    expect(cboxCgroups()).toEqual([]);
  });

  test.skipIf(cgroupVersion !== 2)(`cgroup v2${skipNote(2)} without delegation: the limits are not applied, said once, and the container runs`, () => {
    const r = run("plain", ["--memory", "64m", "true"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toStartWith("cbox: warning: limits are not applied: your cgroup ");
    expect(r.stderr.split("\n")).toHaveLength(2);
  });

  describe("what a user's user namespace cannot map is refused before anything is made (one line, 125)", () => {
    const refused = (key: keyof typeof users, args: string[], line: string, opts: { rootfs?: string; env?: Record<string, string> } = {}) => {
      const e = env[key];
      const before = { mounts: hostMounts(), store: treeListing(e.store, false), cgroups: cboxCgroups() };
      const r = cbox(["run", "--rm", "--root", e.store, "--rootfs", opts.rootfs ?? e.rootfs, ...args], { as: e.as, env: opts.env });
      expect(r).toEqual({ code: 125, stdout: "", stderr: `${line}\n` });
      expect({ mounts: hostMounts(), store: treeListing(e.store, false), cgroups: cboxCgroups() }).toEqual(before);
    };

    test("-u 1000 without a subordinate range names /etc/subuid and the command that adds one", () => {
      const name = users.plain;
      refused("plain", ["-u", "1000", "id"], `cbox: uid 1000 (--user) is not mapped in your containers' user namespace, which has only uid 0 (you): /etc/subuid has no range for ${name} (as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${name}); or leave out --user`);
      refused("plain", ["-u", "0:1000", "id"], `cbox: gid 1000 (--user) is not mapped in your containers' user namespace, which has only gid 0 (you): /etc/subuid has no range for ${name} (as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${name}); or leave out --user`);
    });

    test("-u 1000 without newuidmap names the uidmap package, even with a range", () => {
      // A PATH with setpriv (to become the user) and nothing else: no newuidmap, no newgidmap.
      const bin = join(work, "setpriv-only");
      sh("mkdir", "-p", bin);
      sh("ln", "-sf", Bun.which("setpriv")!, join(bin, "setpriv"));
      const noHelpers = { PATH: bin };
      refused("sub", ["-u", "1000", "id"], "cbox: uid 1000 (--user) is not mapped in your containers' user namespace, which has only uid 0 (you): newuidmap and newgidmap are not installed (install the uidmap package); or leave out --user", { env: noHelpers });
    });

    test.skipIf(!hasNewuidmap)("an id past the range names the range", () => {
      refused("sub", ["-u", `${SUB_COUNT + 5}`, "id"], `cbox: uid ${SUB_COUNT + 5} (--user) is not mapped in your containers' user namespace, which has uids 0-${SUB_COUNT} (your /etc/subuid range): use one of those, or ask for a larger range`);
    });

    test("a --rootfs that host root owns", () => {
      const rootOwned = buildRootfs(join(work, "root-owned"));
      try {
        refused("plain", ["true"], `cbox: --rootfs ${rootOwned}: the folder belongs to uid 0, which your containers cannot map, so they could not write in it; use a copy you own (cp -a as yourself, or sh rootfs/build.sh DIR, or cbox import), or run cbox as root`, { rootfs: rootOwned });
      } finally {
        removeDir(rootOwned);
      }
    });

    test("exec -u into a running container: the same line", () => {
      const e = env.plain;
      const c = (args: string[]) => cbox([args[0]!, "--root", e.store, ...args.slice(1)], { as: e.as });
      try {
        expect(c(["run", "-d", "--name", "exec-target", "--rootfs", e.rootfs, "sleep", "3103"]).code).toBe(0);
        expect(c(["exec", "-u", "1000", "exec-target", "id"])).toEqual({
          code: 125,
          stdout: "",
          stderr: `cbox: uid 1000 (--user) is not mapped in your containers' user namespace, which has only uid 0 (you): /etc/subuid has no range for ${users.plain} (as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${users.plain}); or leave out --user\n`,
        });
        expect(c(["exec", "-u", "0", "exec-target", "id", "-u"]).stdout).toBe("0\n");
      } finally {
        c(["rm", "-f", "exec-target"]);
      }
    });
  });

  test("without ranges, chown to an unmapped id is refused", () => {
    const r = run("plain", ["sh", "-c", "touch /f; chown 1000 /f"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Invalid argument");
  });

  test("writes only where the user may: not a host-root file, not /sys; new files are the user's", () => {
    const e = env.plain;
    writeFileSync(join(e.rootfs, "root-owned"), "host root's\n");
    chownSync(join(e.rootfs, "root-owned"), 0, 0);
    const r = run("plain", ["--name", "writes", "sh", "-c", "echo x >> /root-owned; touch /sys/x; echo y > /new && cat /new"], false);
    expect(r.stdout).toBe("y\n");
    expect(r.stderr).toContain("can't create /root-owned: Permission denied");
    expect(r.stderr).toContain("Read-only file system");
    expect(readFileSync(join(e.rootfs, "root-owned"), "utf8")).toBe("host root's\n");
    const id = readFileSync(join(e.store, "names", "writes"), "utf8").trim();
    expect(statSync(join(e.store, "containers", id, "upper", "new")).uid).toBe(e.as.uid);
    expect(cbox(["rm", "--root", e.store, "writes"], { as: e.as }).code).toBe(0);
  });

  test("runs leave no mount and no folder behind", () => {
    const before = { mounts: hostMounts(), store: treeListing(env.plain.store, false) };
    for (let i = 0; i < 10; i++) expect(run("plain", ["true"]).code).toBe(0);
    expect(run("plain", ["no-such-command"]).code).toBe(127);
    expect({ mounts: hostMounts(), store: treeListing(env.plain.store, false) }).toEqual(before);
  });

  test("-t: a pty from the container's own devpts, owned by the user the command runs as", () => {
    expect(run("plain", ["-t", "sh", "-c", "tty; stat -c %u /proc/self/fd/0"]).stdout).toBe("/dev/pts/0\r\n0\r\n");
    const asOther = run("sub", ["-t", "-u", "1000:1000", "sh", "-c", "tty; stat -c %u /proc/self/fd/0; id -u"]);
    expect(asOther.stdout).toBe("/dev/pts/0\r\n1000\r\n1000\r\n");
  });

  test("-it on a terminal: the shell answers, exit code and terminal settings come back", async () => {
    const e = env.plain;
    const dir = tempDir();
    chmodSync(dir, 0o777);
    try {
      const s = new TerminalSession(["run", "--rm", "-it", "--root", e.store, "--rootfs", e.rootfs, "sh"], dir, undefined, e.as);
      await s.until("/ # ");
      s.type("echo inside-$(id -u)-$(stty size | tr ' ' x)\r");
      await s.until("inside-0-30x100");
      s.type("exit 5\r");
      expect(await s.exitCode()).toBe(5);
      expect(s.settings().after).toBe(s.settings().before);
    } finally {
      removeDir(dir);
    }
  });

  test("-v: a folder of the user's, written inside as root, is the user's on the host", () => {
    const e = env.plain;
    const dir = join(work, "plain", "volume");
    sh("install", "-d", "-o", String(e.as.uid), "-g", String(e.as.gid), dir);
    const r = run("plain", ["-v", `${dir}:/data`, "sh", "-c", "echo made > /data/f; id -u"]);
    expect(r).toEqual({ code: 0, stdout: "0\n", stderr: "" });
    expect(statSync(join(dir, "f")).uid).toBe(e.as.uid);
  });

  test("run -d, exec, logs, stop, start and rm as an ordinary user; the monitor and its exit record run as that user", async () => {
    const e = env.sub;
    const c = (args: string[]) => cbox([args[0]!, "--root", e.store, ...args.slice(1)], { as: e.as });
    const started = c(["run", "-d", "--name", "bg", "--rootfs", e.rootfs, "sh", "-c", "echo started; echo marker > /tmp/m; exec sleep 3101"]);
    try {
      expect(started).toMatchObject({ code: 0, stderr: "" });
      const state = JSON.parse(c(["inspect", "bg"]).stdout)[0].State;
      const monitor = Number(procStat(state.Pid)[1]);
      expect(statSync(`/proc/${monitor}`).uid).toBe(e.as.uid);
      for (let i = 0; i < 100 && c(["exec", "bg", "cat", "/tmp/m"]).stdout !== "marker\n"; i++) await Bun.sleep(20);
      // exec joins the container's user namespace: root inside, and a user of its range with -u
      expect(c(["exec", "bg", "sh", "-c", "id -u; cat /tmp/m; readlink /proc/1/ns/user"]).stdout).toBe(`0\nmarker\n${readlinkSync(`/proc/${state.Pid}/ns/user`)}\n`);
      expect(c(["exec", "-u", "1000", "bg", "id", "-u"]).stdout).toBe("1000\n");
      expect(c(["logs", "bg"]).stdout).toBe("started\n");
      expect(c(["stop", "-t", "1", "bg"]).code).toBe(0);
      expect(c(["ps", "-a"]).stdout).toMatch(/Exited \(137\) .* ago +bg\n/);
      expect(c(["start", "bg"]).code).toBe(0);
      expect(c(["rm", "-f", "bg"])).toMatchObject({ code: 0, stdout: "bg\n" });
      expect(readdirSync(join(e.store, "containers"))).toEqual([]);
    } finally {
      c(["rm", "-f", "bg"]); // a no-op once the test removed it
    }
    expect(Bun.spawnSync(["pgrep", "-f", "sleep 3101"]).stdout.toString()).toBe("");
  });

  test("run -d --init: exec reaches the container through the command (the init, a copy of cbox, is closed to /proc readers)", () => {
    const e = env.sub;
    const c = (args: string[]) => cbox([args[0]!, "--root", e.store, ...args.slice(1)], { as: e.as });
    try {
      expect(c(["run", "-d", "--init", "--name", "with-init", "--rootfs", e.rootfs, "sleep", "3102"]).code).toBe(0);
      expect(c(["exec", "with-init", "sh", "-c", "id -u; cat /proc/1/comm; cat /proc/1/environ 2>&1 | wc -l"])).toEqual({ code: 0, stdout: "0\ninit\n1\n", stderr: "" });
    } finally {
      c(["rm", "-f", "with-init"]);
    }
  });
});
