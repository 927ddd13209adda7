// docker's everyday `run` flags: devices, groups, limits, kernel settings, /etc files, labels and
// the id file. Each with its bad inputs: one line, exit 125, nothing left in the store.
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cbox, isRoot, rootfsFixture, rootlessUserFixture, type Result } from "./helpers.ts";

const fx = rootfsFixture();
const user = rootlessUserFixture("cbox-flags", 1_800_000);
const run = (flags: string[], command: string[]) => cbox(["run", "--rm", "--root", fx.store, "--network", "none", ...flags, "--rootfs", fx.rootfs, ...command]);
const sh = (flags: string[], script: string) => run(flags, ["sh", "-c", script]);

const AUDIO = 18; // the test rootfs's audio and video groups
const VIDEO = 27;

/** A refused run: one line naming the flag, 125, and no container left behind. */
function expectRefused(r: Result, text: string | RegExp, store = fx.store) {
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(text);
  expect(r.code).toBe(125);
  expect(r.stdout).toBe("");
  const containers = join(store, "containers");
  expect(existsSync(containers) ? readdirSync(containers) : []).toEqual([]);
}

/** Device nodes made for the test (a stand-in for /dev/snd): fuse's numbers, outside the default allow list, and full's. */
function soundFolder(): string {
  const dir = join(fx.work, "snd");
  if (existsSync(dir)) return dir;
  mkdirSync(join(dir, "by-path"), { recursive: true });
  const make = (name: string, major: number, minor: number) => {
    expect(Bun.spawnSync(["mknod", join(dir, name), "c", String(major), String(minor)]).exitCode).toBe(0);
    chownSync(join(dir, name), 0, AUDIO);
    chmodSync(join(dir, name), 0o660);
  };
  make("controlC0", 10, 229);
  make("pcmC0D0p", 1, 7);
  writeFileSync(join(dir, "by-path", "not-a-device"), "");
  return dir;
}

describe.skipIf(!isRoot)("run flags: devices and groups", () => {
  test("the desktop case: a device folder, --group-add audio and video, the X socket as a volume, DISPLAY", async () => {
    const snd = soundFolder();
    const x11 = join(fx.work, "x11");
    mkdirSync(x11, { recursive: true });
    const server = Bun.listen({ unix: join(x11, "X0"), socket: { data() {} } });
    try {
      const r = sh(
        ["-u", "guest", "--device", `${snd}:/dev/snd`, "--group-add", "audio", "--group-add", String(VIDEO), "-v", `${x11}:/tmp/.X11-unix`, "-e", "DISPLAY=:0"],
        "id -u; id -G; stat -c '%A %u %g %t:%T %n' /dev/snd/*; exec 3<>/dev/snd/controlC0 && echo opened; test -S /tmp/.X11-unix/X0 && echo socket; echo $DISPLAY",
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.trim().split("\n")).toEqual([
        "405",
        `100 ${AUDIO} ${VIDEO}`,
        `crw-rw---- 0 ${AUDIO} a:e5 /dev/snd/controlC0`, // 10:229 in hex
        `crw-rw---- 0 ${AUDIO} 1:7 /dev/snd/pcmC0D0p`,
        "opened",
        "socket",
        ":0",
      ]);
      // Without the group the same user cannot open it (the node's mode), and without --device it is not there.
      expect(sh(["-u", "guest", "--device", `${snd}:/dev/snd`], "exec 3<>/dev/snd/controlC0").stderr).toContain("Permission denied");
      expect(sh([], "ls /dev/snd").code).not.toBe(0);
    } finally {
      server.stop(true);
    }
  });

  test("--device gives one node under another name; its permissions are the devices cgroup's", () => {
    const node = join(soundFolder(), "controlC0");
    const r = sh(["--device", `${node}:/dev/c0:r`], "exec 3</dev/c0 && echo read; exec 4<>/dev/c0 && echo write");
    expect(r.stdout).toBe("read\n");
    expect(r.stderr).toContain("Operation not permitted"); // the cgroup, not the mode: root would pass that
    expect(sh(["--device", `${node}:/dev/c0`], "exec 3<>/dev/c0 && echo rw").stdout).toBe("rw\n");
  });

  test("--device and --group-add refuse what they cannot do", () => {
    const snd = soundFolder();
    expectRefused(sh(["--device", "/dev/no-such-node"], "true"), "--device /dev/no-such-node: /dev/no-such-node does not exist on this host");
    expectRefused(sh(["--device", `${join(snd, "by-path")}:/dev/by-path`], "true"), "holds no device nodes");
    expectRefused(sh(["--device", join(snd, "by-path", "not-a-device") + ":/dev/x"], "true"), "is not a device node");
    expectRefused(sh(["--device", `${snd}:/etc/snd`], "true"), "the container path must be under /dev");
    expectRefused(sh(["--device", "/dev/full:/dev/null"], "true"), "every container has /dev/null already");
    expectRefused(sh(["--device", `${snd}:/dev/snd:rx`], "true"), "expected HOST[:CONTAINER][:PERMISSIONS]");
    expectRefused(sh(["--device", `${snd}:/dev/a`, "--device", `${snd}:/dev/a`], "true"), "two devices for /dev/a/controlC0");
    expectRefused(sh(["--group-add", "no-such-group"], "true"), "--group-add no-such-group: no such group in the image's /etc/group");
    expectRefused(sh(["--group-add", "99999999999"], "true"), "out of range");
  });

  test("rootless: the host's node is bound in, and --group-add's gid must be mapped", () => {
    const node = "/dev/full"; // readable and writable by everyone on the host
    const r = cbox(["run", "--rm", "--root", user.store, "--network", "none", "--device", `${node}:/dev/extra`, "--group-add", "audio", "--rootfs", user.rootfs, "sh", "-c", "head -c 2 /dev/extra | od -An -tx1; id -G"], { as: user.as });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n").map((l) => l.trim())).toEqual(["00 00", `0 1 2 3 4 6 10 11 ${AUDIO} 20 26 ${VIDEO}`]);
    const refused = cbox(["run", "--rm", "--root", user.store, "--network", "none", "--group-add", "70000", "--rootfs", user.rootfs, "true"], { as: user.as });
    expectRefused(refused, "gid 70000 (--group-add) is not mapped", user.store);
  });
});

describe.skipIf(!isRoot)("run flags: limits and kernel settings", () => {
  test("--ulimit sets soft and hard limits; -1 is unlimited; the last one given wins", () => {
    const r = sh(["--ulimit", "nofile=100:200", "--ulimit", "core=-1", "--ulimit", "nproc=50", "--ulimit", "nproc=60"], "ulimit -n; ulimit -Hn; ulimit -c; ulimit -u; ulimit -Hu");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("100\n200\nunlimited\n60\n60\n");
  });

  test("--ulimit refuses bad forms, unknown names and more than cbox's own hard limit", () => {
    expectRefused(sh(["--ulimit", "nofile"], "true"), "--ulimit nofile: expected NAME=SOFT[:HARD]");
    expectRefused(sh(["--ulimit", "files=1"], "true"), "no limit called files");
    expectRefused(sh(["--ulimit", "nofile=20:10"], "true"), "the soft limit is above the hard one");
    const ownHard = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))!.slice(26).trim().split(/\s+/)[1]!;
    const status = readFileSync("/proc/self/status", "utf8");
    const canRaise = (BigInt(`0x${/^CapEff:\s*(\w+)/m.exec(status)![1]}`) >> 24n) & 1n;
    if (!canRaise && ownHard !== "unlimited") {
      expectRefused(sh(["--ulimit", `nofile=10:${BigInt(ownHard) + 1n}`], "true"), `cbox's own hard nofile limit is ${ownHard}`);
    }
  });

  test("--sysctl, --domainname, --shm-size and --oom-score-adj reach the container, not the host", () => {
    const hostShmmax = readFileSync("/proc/sys/kernel/shmmax", "utf8");
    const hostDomain = readFileSync("/proc/sys/kernel/domainname", "utf8");
    const r = sh(
      ["--sysctl", "kernel.shmmax=65536", "--sysctl", "fs.mqueue.msg_max=20", "--sysctl", "net.ipv4.ping_group_range=0 2147483647", "--domainname", "example.test", "--shm-size", "8m", "--oom-score-adj", "500"],
      "cat /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max /proc/sys/net/ipv4/ping_group_range /proc/sys/kernel/domainname /proc/self/oom_score_adj; df -k /dev/shm | tail -1",
    );
    expect(r.stderr).toBe("");
    const lines = r.stdout.trim().split("\n");
    expect(lines.slice(0, 5).map((l) => l.replace(/\s+/g, " "))).toEqual(["65536", "20", "0 2147483647", "example.test", "500"]);
    expect(lines[5]!.split(/\s+/)[1]).toBe("8192");
    expect(readFileSync("/proc/sys/kernel/shmmax", "utf8")).toBe(hostShmmax);
    expect(readFileSync("/proc/sys/kernel/domainname", "utf8")).toBe(hostDomain);
    expect(sh([], "df -k /dev/shm | tail -1").stdout.split(/\s+/)[1]).toBe("65536");
  });

  test("the kernel settings' bad inputs", () => {
    expectRefused(sh(["--sysctl", "kernel.hostname=x"], "true"), "--sysctl kernel.hostname: not one a container has its own copy of");
    expectRefused(sh(["--sysctl", "vm.swappiness=1"], "true"), "not one a container has its own copy of");
    expectRefused(sh(["--sysctl", "noequals"], "true"), "--sysctl noequals: expected NAME=VALUE");
    expectRefused(sh(["--sysctl", "net.ipv4.no_such_setting=1"], "true"), "--sysctl net.ipv4.no_such_setting: this kernel has no such setting");
    expectRefused(cbox(["run", "--rm", "--root", fx.store, "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "--rootfs", fx.rootfs, "true"]), "shares its network namespace (--network host)");
    expectRefused(sh(["--domainname", "bad_name!"], "true"), "--domainname");
    expectRefused(sh(["--shm-size", "lots"], "true"), "--shm-size lots: expected a size");
    expectRefused(sh(["--oom-score-adj", "1001"], "true"), "--oom-score-adj 1001: expected a whole number from -1000 to 1000");
    const own = Number(readFileSync("/proc/self/oom_score_adj", "utf8"));
    const r = cbox(["run", "--rm", "--root", user.store, "--network", "none", "--oom-score-adj", String(own - 1), "--rootfs", user.rootfs, "true"], { as: user.as });
    expectRefused(r, `below cbox's own`, user.store);
  });
});

describe.skipIf(!isRoot)("run flags: /etc/hosts, /etc/resolv.conf, labels, --cidfile", () => {
  test("--add-host adds lines; host-gateway is the container's default gateway", () => {
    const r = cbox(["run", "--rm", "--root", fx.store, "--add-host", "db:192.0.2.7", "--add-host", "v6=2001:db8::1", "--add-host", "host.docker.internal:host-gateway", "--rootfs", fx.rootfs, "sh", "-c", "tail -3 /etc/hosts; ip route | grep default"]);
    expect(r.stderr).toBe("");
    const [db, v6, gw, route] = r.stdout.trim().split("\n");
    expect(db).toBe("192.0.2.7\tdb");
    expect(v6).toBe("2001:db8::1\tv6");
    const gateway = /default via (\S+)/.exec(route!)![1];
    expect(gw).toBe(`${gateway}\thost.docker.internal`);
  });

  test("--dns, --dns-search and --dns-option replace the host's; inspect shows them", () => {
    const r = sh(["--dns", "192.0.2.53", "--dns", "2001:db8::53", "--dns-search", "corp.example", "--dns-option", "ndots:2", "--dns-option", "edns0"], "cat /etc/resolv.conf");
    expect(r.stdout.split("\n").filter((l) => /^(nameserver|search|domain|options)/.test(l))).toEqual(["nameserver 192.0.2.53", "nameserver 2001:db8::53", "search corp.example", "options ndots:2 edns0"]);
  });

  test("the /etc flags' bad inputs", () => {
    expectRefused(sh(["--add-host", "nocolon"], "true"), "--add-host nocolon: expected NAME:IP");
    expectRefused(sh(["--add-host", "db:300.1.1.1"], "true"), `"300.1.1.1" is not an IP address`);
    expectRefused(sh(["--add-host", "gw:host-gateway"], "true"), "--network none has none");
    expectRefused(sh(["--dns", "resolver.example"], "true"), "--dns resolver.example: expected an IP address");
    expectRefused(sh(["--dns-search", "bad domain"], "true"), "not a domain name");
    expectRefused(sh(["--dns-option", "-x"], "true"), "expected a resolver option");
  });

  test("--label, with the image's; inspect shows labels and the run flags", () => {
    const r = cbox(["run", "-d", "--root", fx.store, "--network", "none", "--name", "labelled", "-l", "tier=web", "--label", "empty", "--ulimit", "nofile=64", "--sysctl", "kernel.shmmni=100", "--rootfs", fx.rootfs, "true"]);
    try {
      expect(r.code).toBe(0);
      const [info] = JSON.parse(cbox(["inspect", "--root", fx.store, "labelled"]).stdout);
      expect(info.Config.Labels).toEqual({ tier: "web", empty: "" });
      expect(info.HostConfig).toMatchObject({ Ulimits: [{ Name: "nofile", Soft: 64, Hard: 64 }], Sysctls: { "kernel.shmmni": "100" }, ShmSize: 64 * 1024 * 1024 });
    } finally {
      cbox(["rm", "-f", "--root", fx.store, "labelled"]);
    }
    expectRefused(sh(["--label", "=v"], "true"), `--label "=v": expected KEY=VALUE`);
  });

  test("--cidfile: the id is written; an existing file is refused; a run that fails leaves none", () => {
    const file = join(fx.work, "cid");
    rmSync(file, { force: true });
    try {
      const r = cbox(["run", "-d", "--root", fx.store, "--network", "none", "--cidfile", file, "--rootfs", fx.rootfs, "true"]);
      expect(r.code).toBe(0);
      expect(readFileSync(file, "utf8")).toBe(r.stdout.trim());
      expect(cbox(["rm", "-f", "--root", fx.store, r.stdout.trim()]).code).toBe(0);
      expectRefused(sh(["--cidfile", file], "true"), `--cidfile ${file}: the file exists`);
      rmSync(file);
      const failed = run(["--cidfile", file], ["/no/such/program"]);
      expect(failed.code).toBe(127);
      expect(existsSync(file)).toBe(false);
      expectRefused(sh(["--cidfile", join(fx.work, "no-such-dir", "cid")], "true"), "--cidfile: cannot create it");
    } finally {
      rmSync(file, { force: true });
    }
  });
});
