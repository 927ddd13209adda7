// Break-out attempts from inside containers, as root and as an ordinary user: each must fail and
// leave the host as it was. The attempts are made by test/fixtures/escape-probe.c, a static
// program built here and put into the test rootfs; each prints "NAME: ok" or "NAME: ERRNO".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cbox, cboxCgroups, hostMounts, isRoot, repo, rootfsFixture, rootlessUserFixture, type Result, type RunAs } from "./helpers.ts";

const fx = rootfsFixture();
const user = rootlessUserFixture("cbox-sec", 400000);
const PROBE = "/usr/local/bin/escape-probe";

beforeAll(() => {
  const out = join(fx.work, "escape-probe");
  const built = Bun.spawnSync(["musl-gcc", "-static", "-O2", "-o", out, join(repo, "test/fixtures/escape-probe.c")], { stderr: "pipe" });
  if (built.exitCode !== 0) throw new Error(`musl-gcc escape-probe.c: ${built.stderr}`);
  for (const rootfs of [fx.rootfs, user.rootfs].filter(Boolean)) {
    copyFileSync(out, join(rootfs, PROBE));
    chmodSync(join(rootfs, PROBE), 0o755);
  }
});

interface Who {
  label: string;
  as?: RunAs;
  rootfs: () => string;
  store: () => string;
}
const ROOT: Who = { label: "root", rootfs: () => fx.rootfs, store: () => fx.store };
const ROOTLESS: Who = { label: "rootless", as: undefined, rootfs: () => user.rootfs, store: () => user.store };

function run(who: Who, flags: string[], command: string[]): Result {
  const as = who === ROOTLESS ? user.as : undefined;
  return cbox(["run", "--rm", "--root", who.store(), "--rootfs", who.rootfs(), ...flags, ...command], { as });
}

/** One probe in a new container: its one line (or the container's error). */
function probe(who: Who, args: string[], flags: string[] = []): string {
  const r = run(who, flags, [PROBE, ...args]);
  return (r.stdout + r.stderr).trim();
}

/** A sh script in a new container: its output lines. */
function shell(who: Who, script: string, flags: string[] = []): string[] {
  const r = run(who, flags, ["sh", "-c", script]);
  return (r.stdout + r.stderr).trim().split("\n");
}

/** major:minor of the host's root filesystem's device, from the mount table. */
function rootDevice(): [number, number] {
  const line = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.split(" ")[4] === "/")!;
  const [major, minor] = line.split(" ")[2]!.split(":").map(Number) as [number, number];
  return major ? [major, minor] : [8, 0];
}

const DEFAULT_MASK = "00000000a80425fb";
const ZERO = "0000000000000000";

for (const who of [ROOT, ROOTLESS]) {
  describe.skipIf(!isRoot)(`break-out attempts (${who.label})`, () => {
    test("mount, bind of /proc, remount of / rw, pivot_root: refused; the host's mount table unchanged", () => {
      const before = hostMounts();
      expect(probe(who, ["mount"])).toBe("mount: EPERM");
      expect(probe(who, ["bind-proc"])).toBe("bind-proc: EPERM");
      expect(probe(who, ["remount-rw", "/proc/sys"])).toBe("remount-rw: EPERM");
      expect(probe(who, ["pivot-root"])).toBe("pivot-root: EPERM");
      expect(probe(who, ["umount", "/proc/sys"])).toBe("umount: EPERM");
      expect(hostMounts()).toEqual(before);
    });

    test("a node made for the host's disk cannot be opened, even by root inside", () => {
      const [major, minor] = rootDevice();
      const out = shell(who, `${PROBE} mknod-disk /tmp/disk ${major} ${minor}; ${PROBE} open-rw /tmp/disk; ${PROBE} mknod-char /tmp/mem 1 1; ${PROBE} open-rw /tmp/mem`);
      // root may make nodes (docker's rule) but not use them; in a user namespace mknod itself is refused
      const made = who === ROOT ? "ok" : "EPERM";
      expect(out).toEqual([`mknod-disk: ${made}`, `open-rw: ${who === ROOT ? "EPERM" : "ENOENT"}`, `mknod-char: ${made}`, `open-rw: ${who === ROOT ? "EPERM" : "ENOENT"}`]);
      expect(probe(who, ["open-rw", "/dev/null"])).toBe("open-rw: ok");
    });

    test("/proc/sys and /proc/sysrq-trigger cannot be written; the host's setting is unchanged", () => {
      const file = "/proc/sys/kernel/printk_ratelimit_burst";
      const host = readFileSync(file, "utf8").trim();
      // In a user namespace the files belong to an unmapped root, which refuses before the mount does.
      expect(probe(who, ["write", file, String(Number(host) + 1)])).toBe(who === ROOT ? "write: EROFS" : "write: EACCES");
      expect(readFileSync(file, "utf8").trim()).toBe(host);
      expect(shell(who, "grep -E ' /proc/(sys|bus|fs|irq|sysrq-trigger) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1")).toEqual(
        ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"].filter((p) => existsSync(p)).map((p) => `${p} ro`),
      );
      // Kernels built without magic SysRq have no file to write (this project's machines).
      expect(probe(who, ["write", "/proc/sysrq-trigger", "h"])).toBe(existsSync("/proc/sysrq-trigger") ? "write: EROFS" : "write: ENOENT");
    });

    test("/proc/kcore, keys and timer_list read as nothing; /sys/firmware is empty", () => {
      expect(probe(who, ["read", "/proc/kcore"])).toBe(existsSync("/proc/kcore") ? "read: empty" : "read: ENOENT");
      for (const path of ["/proc/keys", "/proc/timer_list"].filter((p) => existsSync(p))) expect(probe(who, ["read", path])).toBe("read: empty");
      expect(shell(who, "ls -A /sys/firmware | wc -l")).toEqual(["0"]);
      expect(readdirSync("/sys/firmware").length).toBeGreaterThan(0);
    });

    test("loading a kernel module, kexec, reboot: refused by the filter", () => {
      for (const name of ["init-module", "finit-module", "kexec-load", "kexec-file-load", "reboot"]) {
        expect(probe(who, [name])).toBe(`${name}: EPERM`);
      }
      expect(probe(who, ["delete-module", "ext4"])).toBe("delete-module: EPERM");
    });

    test("unshare -U, unshare -m, clone with namespace flags, setns: refused; clone3 says ENOSYS so libcs fall back", () => {
      for (const ns of ["user", "mount", "net", "pid", "uts", "ipc", "cgroup"]) expect(probe(who, [`unshare-${ns}`])).toBe(`unshare-${ns}: EPERM`);
      expect(probe(who, ["clone-newuser"])).toBe("clone-newuser: EPERM");
      expect(probe(who, ["clone-newns"])).toBe("clone-newns: EPERM");
      expect(probe(who, ["clone3"])).toBe("clone3: ENOSYS");
      expect(probe(who, ["fork"])).toBe("fork: ok");
      expect(probe(who, ["setns", "/proc/self/ns/net"])).toBe("setns: EPERM");
      // the busybox applet too
      expect(shell(who, "unshare -U true 2>&1; echo $?")).toEqual(["unshare: unshare(0x10000000): Operation not permitted", "1"]);
    });

    test("open_by_handle_at (the 'shocker' attack), bpf, perf_event_open, keyrings, userfaultfd: refused", () => {
      expect(probe(who, ["open-by-handle-raw"])).toBe("open-by-handle-raw: EPERM");
      // name_to_handle_at is allowed, as docker allows it (overlayfs has no handles for it anyway)
      expect(probe(who, ["open-by-handle"])).toMatch(/^open-by-handle: (name_to_handle_at EOPNOTSUPP|open_by_handle_at EPERM)$/);
      for (const name of ["bpf", "bpf-map", "perf-event-open", "keyctl", "userfaultfd", "syslog", "acct", "swapon /dev/null", "quotactl", "clock-settime", "settimeofday", "socket-vsock"]) {
        const [n, ...args] = name.split(" ");
        expect(probe(who, [n!, ...args])).toBe(`${n}: EPERM`);
      }
      expect(probe(who, ["personality", "0x0400000"])).toBe("personality: EPERM");
      expect(probe(who, ["personality", "0"])).toBe("personality: ok");
    });

    // x32 and int 0x80 are x86_64's; arm64 cbox refuses 32-bit arm code by AUDIT_ARCH alone.
    test.skipIf(process.arch !== "x64")("32-bit and x32 system calls cannot get around the filter", () => {
      expect(probe(who, ["x32"])).toBe("x32: ENOSYS");
      expect(probe(who, ["int80"])).toBe("int80: ENOSYS");
    });

    test("a host process cannot be seen, signalled or traced", async () => {
      const sleeper = Bun.spawn(["sleep", "60"]);
      try {
        const pid = sleeper.pid;
        expect(probe(who, ["kill", String(pid), "9"])).toMatch(/^kill: (ESRCH|ok)$/);
        // the container's own PID namespace: sh (a glob and test are builtins) is all there is
        expect(shell(who, `echo /proc/[0-9]*; test -e /proc/${pid} && echo seen || echo unseen`)).toEqual(["/proc/1", "unseen"]);
        expect(probe(who, ["ptrace", "1"])).toBe("ptrace: EPERM");
        await Bun.sleep(50);
        expect(sleeper.exitCode).toBeNull();
        expect(sleeper.killed).toBe(false);
      } finally {
        sleeper.kill(9);
      }
    });

    test("an --init PID 1 (a copy of cbox until it ends) cannot be read: not its memory, environment or executable", () => {
      const out = shell(who, `${PROBE} read /proc/1/environ; ${PROBE} read /proc/1/mem; readlink /proc/1/exe || echo no-exe`, ["--init"]);
      expect(out[0]).toMatch(/^read: (EACCES|EPERM)$/);
      expect(out[1]).toMatch(/^read: (EACCES|EPERM|EIO)$/);
      expect(out.at(-1)).toBe("no-exe");
    });

    test("a volume whose target leads through an image's symlink out of the root is refused; nothing made", () => {
      const base = who.rootfs();
      const hostDir = join(base, "..", `target-${who.label}`);
      mkdirSync(hostDir, { recursive: true });
      if (!existsSync(join(base, "escape"))) symlinkSync("../../../../../../../../../..".concat(hostDir), join(base, "escape"));
      const before = readdirSync(hostDir);
      const r = run(who, ["-v", `${base}/etc:/escape/sub`], ["true"]);
      expect(r.code).toBe(125);
      expect(r.stderr.trim().split("\n")).toEqual([expect.stringContaining("/escape/sub leads out of the container's root through the symlink /escape -> ../")]);
      expect(readdirSync(hostDir)).toEqual(before);
      expect(existsSync(join(who.store(), "containers")) ? readdirSync(join(who.store(), "containers")) : []).toEqual([]);
    });

    test("capabilities: docker's default set for root, nothing for another user, nothing ambient", () => {
      expect(probe(who, ["caps"])).toBe(`caps: CapInh=${ZERO} CapPrm=${DEFAULT_MASK} CapEff=${DEFAULT_MASK} CapBnd=${DEFAULT_MASK} CapAmb=${ZERO}`);
      expect(probe(who, ["caps"], ["-u", "1000"])).toBe(`caps: CapInh=${ZERO} CapPrm=${ZERO} CapEff=${ZERO} CapBnd=${DEFAULT_MASK} CapAmb=${ZERO}`);
      const one = "0000000000000400"; // NET_BIND_SERVICE
      expect(probe(who, ["caps"], ["--cap-drop", "ALL", "--cap-add", "net_bind_service"])).toBe(`caps: CapInh=${ZERO} CapPrm=${one} CapEff=${one} CapBnd=${one} CapAmb=${ZERO}`);
      expect(probe(who, ["chown", "/etc/passwd", "5"], ["--cap-drop", "CHOWN"])).toBe("chown: EPERM");
      expect(probe(who, ["chown", "/etc/passwd", "5"])).toBe("chown: ok");
    });

    test("the filter is on (one), no_new_privs only when asked, the process dumpable again after execve", () => {
      expect(probe(who, ["seccomp"])).toBe("seccomp: 2 1");
      expect(probe(who, ["nnp"])).toBe("nnp: 0");
      expect(probe(who, ["nnp"], ["--security-opt", "no-new-privileges"])).toBe("nnp: 1");
      expect(probe(who, ["seccomp"], ["--security-opt", "no-new-privileges"])).toBe("seccomp: 2 1");
      expect(probe(who, ["seccomp"], ["--security-opt", "seccomp=unconfined"])).toBe("seccomp: 0 0");
      expect(probe(who, ["dumpable"])).toBe("dumpable: 1");
    });

    test("only the standard streams are open, whatever cbox was given", () => {
      const extra = Bun.spawnSync(["sh", "-c", `exec 7</etc/hostname 9>/dev/null; exec "$@"`, "sh", ...cboxArgv(who, [PROBE, "fds"])], {
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(extra.stdout.toString().trim()).toBe("fds: 0 1 2");
    });

    test("the host's environment stays outside; only the defaults and -e", () => {
      const r = cbox(["run", "--rm", "--root", who.store(), "--rootfs", who.rootfs(), "-e", "ASKED=1", "env"], {
        as: who === ROOTLESS ? user.as : undefined,
        env: { CBOX_TEST_SECRET: "host-only" },
      });
      expect(r.stdout.split("\n").filter(Boolean).map((l) => l.split("=")[0]).sort()).toEqual(["ASKED", "HOME", "HOSTNAME", "PATH", "PWD", "SHLVL"].filter((k) => r.stdout.includes(`${k}=`)));
      expect(r.stdout).not.toContain("CBOX_TEST_SECRET");
      expect(r.stdout).toContain("ASKED=1");
    });

    test("--read-only: / refuses writes; --tmpfs and --mount type=tmpfs give writable places", () => {
      const out = shell(who, "touch /x 2>&1; touch /scratch/a && echo tmpfs-ok; touch /cache/b && echo mount-ok; grep -E ' /(scratch|cache) ' /proc/mounts | cut -d' ' -f2,4", [
        "--read-only",
        "--tmpfs",
        "/scratch:size=1m",
        "--mount",
        "type=tmpfs,target=/cache,tmpfs-mode=0700",
      ]);
      // in a user namespace the kernel adds the tmpfs owner's ids to the options it shows
      const ids = who === ROOT ? "" : `,uid=${user.as.uid},gid=${user.as.gid}`;
      expect(out).toEqual(["touch: /x: Read-only file system", "tmpfs-ok", "mount-ok", `/scratch rw,nosuid,nodev,noexec,relatime,size=1024k${ids}`, `/cache rw,nosuid,nodev,noexec,relatime,mode=700${ids}`]);
    });

    test("--security-opt seccomp=unconfined lifts the filter: unshare -U then works (the filter, not the kernel, refused it)", () => {
      expect(probe(who, ["unshare-user"], ["--security-opt", "seccomp=unconfined"])).toBe("unshare-user: ok");
    });

    test("--security-opt seccomp=FILE: a docker-format profile is applied", () => {
      const file = join(who.rootfs(), "..", `profile-${who.label}.json`);
      writeFileSync(file, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }] }));
      chmodSync(file, 0o644);
      expect(shell(who, "mkdir /d 2>&1; echo $?", ["--security-opt", `seccomp=${file}`])).toEqual(["mkdir: can't create directory '/d': Permission denied", "1"]);
      expect(probe(who, ["mount"], ["--security-opt", `seccomp=${file}`])).toBe("mount: EPERM"); // capabilities still hold
    });
  });
}

function cboxArgv(who: Who, command: string[]): string[] {
  const as = who === ROOTLESS ? user.as : undefined;
  const prefix = as ? ["setpriv", `--reuid=${as.uid}`, `--regid=${as.gid}`, "--clear-groups", "--"] : [];
  return [...prefix, join(repo, "dist/cbox"), "run", "--rm", "--root", who.store(), "--rootfs", who.rootfs(), ...command];
}

describe.skipIf(!isRoot)("--privileged and bad security flags (root)", () => {
  test("--privileged: every capability cbox holds, no filter, nothing masked, /sys writable, devices open", () => {
    const own = /^CapBnd:\s*(\w+)$/m.exec(readFileSync("/proc/self/status", "utf8"))![1];
    expect(probe(ROOT, ["caps"], ["--privileged"])).toBe(`caps: CapInh=${ZERO} CapPrm=${own} CapEff=${own} CapBnd=${own} CapAmb=${ZERO}`);
    expect(probe(ROOT, ["seccomp"], ["--privileged"])).toBe("seccomp: 0 0");
    expect(shell(ROOT, "ls -A /sys/firmware | wc -l; grep -c ' /proc/sys ' /proc/mounts; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1", ["--privileged"])).toEqual([
      String(readdirSync("/sys/firmware").length),
      "0",
      "rw",
    ]);
    expect(shell(ROOT, `${PROBE} mknod-char /tmp/kmsg 1 11; ${PROBE} open-rw /tmp/kmsg`, ["--privileged"])).toEqual(["mknod-char: ok", "open-rw: ok"]);
  });

  test("bad flags: one line, 125, no container, mount or cgroup left", () => {
    const mountsBefore = hostMounts();
    for (const [flags, message] of [
      [["--cap-add", "SYS_WIZARD"], "cbox: --cap-add SYS_WIZARD: unknown capability"],
      [["--cap-drop", ""], "cbox: --cap-drop : unknown capability"],
      [["--security-opt", "seccomp=/no/such.json"], "cbox: --security-opt seccomp: cannot read /no/such.json"],
      [["--security-opt", "apparmor=docker-default"], "cbox: --security-opt apparmor=docker-default: not supported (seccomp=unconfined|FILE.json, no-new-privileges)"],
      [["--tmpfs", "rel"], "cbox: --tmpfs rel: the container path must be absolute"],
      [["--tmpfs", "/t:size=big"], 'cbox: --tmpfs /t:size=big: unknown or malformed option "size=big" (size=, mode=, uid=, gid=, nr_inodes=, ro, exec, suid, dev)'],
      [["--mount", "type=volume,src=x/y,dst=/x"], 'cbox: --mount type=volume,src=x/y,dst=/x: "x/y" is not a volume name (two or more of a-z A-Z 0-9 _ . -, the first a letter or digit); a host path is type=bind'],
      [["--tmpfs", "/a", "--mount", "type=tmpfs,dst=/a"], "cbox: /a: two mounts on the same container path"],
    ] as [string[], string][]) {
      const r = run(ROOT, flags, ["true"]);
      expect({ flags, code: r.code, stderr: r.stderr }).toEqual({ flags, code: 125, stderr: `${message}\n` });
    }
    const badProfile = join(fx.work, "bad.json");
    writeFileSync(badProfile, '{"defaultAction": "SCMP_ACT_MAYBE"}');
    const r = run(ROOT, ["--security-opt", `seccomp=${badProfile}`], ["true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toStartWith(`cbox: --security-opt seccomp: ${badProfile}: `);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(join(fx.store, "containers")) ? readdirSync(join(fx.store, "containers")) : []).toEqual([]);
    expect(hostMounts()).toEqual(mountsBefore);
    expect(cboxCgroups()).toEqual([]);
  });
});

afterAll(() => {
  expect(cboxCgroups()).toEqual([]);
});
