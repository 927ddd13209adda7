// A container as the host's root sees it: namespaces, mounts, /dev, flags.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { cbox, cgroupfsMountPoints, isRoot, maskedAndReadOnlyPaths, rootfsFixture, treeListing } from "./helpers.ts";

const fx = rootfsFixture();
const run = (args: string[], stdin?: string) => cbox(["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, ...args], { stdin });


describe.skipIf(!isRoot)("cbox run as root", () => {
  test("the command is PID 1 and sees only the container's processes", () => {
    const r = run(["sh", "-c", "echo pid=$$; ps -o pid,comm; true"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [first, ...ps] = r.stdout.trim().split("\n");
    expect(first).toBe("pid=1");
    expect(ps.map((l) => l.trim().split(/\s+/))).toEqual([["PID", "COMMAND"], ["1", "sh"], [expect.any(String), "ps"]]);
  });

  test("host name is the container's own, and the host's is untouched", () => {
    const before = hostname();
    expect(run(["-h", "box1", "hostname"]).stdout).toBe("box1\n");
    expect(run(["--hostname", "box2", "cat", "/etc/hostname"]).stdout).toBe("box2\n");
    expect(hostname()).toBe(before);
    const r = cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, "hostname"]);
    const id = readFileSync(join(fx.store, "containers", treeListing(join(fx.store, "containers"))[0]!.split(" ")[0]!.slice(1), "state.json"), "utf8");
    expect(r.stdout.trim()).toBe(JSON.parse(id).id.slice(0, 12));
    expect(cbox(["rm", "--root", fx.store, r.stdout.trim()]).code).toBe(0);
  });

  test("the host's mounts are invisible: exactly the container's own mount points", () => {
    const r = run(["cat", "/proc/self/mountinfo"]);
    expect(r.code).toBe(0);
    const points = r.stdout.trim().split("\n").map((l) => l.split(" ")[4]);
    expect(points.sort()).toEqual(
      ["/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", ...maskedAndReadOnlyPaths(), ...cgroupfsMountPoints()].sort(),
    );
    expect(r.stdout).not.toContain(fx.rootfs.slice(0, fx.rootfs.lastIndexOf("/")) + "/store ");
    expect(run(["ls", "-a", "/"]).stdout).not.toContain(".cbox-oldroot");
  });

  test("as root there is no user namespace: the identity map", () => {
    const r = run(["cat", "/proc/self/uid_map", "/proc/self/gid_map"]);
    expect(r.stdout.split("\n").map((l) => l.trim().split(/\s+/).join(" "))).toEqual(["0 0 4294967295", "0 0 4294967295", ""]);
  });

  test("every namespace but user is new", () => {
    const inside = run(["sh", "-c", "for n in mnt pid uts ipc net cgroup user; do echo $n $(readlink /proc/self/ns/$n); done"]);
    for (const line of inside.stdout.trim().split("\n")) {
      const [name, link] = line.split(" ");
      const host = require("node:fs").readlinkSync(`/proc/self/ns/${name}`);
      if (name === "user") expect(link).toBe(host);
      else expect(link).not.toBe(host);
    }
  });

  test("/dev holds the standard devices, a private devpts, shm and mqueue; /sys is read-only", () => {
    const r = run([
      "sh",
      "-c",
      "ls /dev | tr '\\n' ' '; echo; readlink /dev/ptmx; head -c 5 /dev/urandom | wc -c; echo x > /dev/null && echo null-ok; " +
        "head -c 3 /dev/zero | od -An -tx1; touch /sys/x 2>&1 || echo sys-ro; stat -c '%a %F' /dev/shm /dev/null",
    ]);
    expect(r.code).toBe(0);
    const [ls, ptmx, n, nullOk, zero, sysErr, sysRo, shm, dnull] = r.stdout.trim().split("\n");
    for (const d of ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd"]) expect(ls).toContain(d);
    expect(ptmx).toBe("pts/ptmx");
    expect(n!.trim()).toBe("5");
    expect(nullOk).toBe("null-ok");
    expect(zero!.trim()).toBe("00 00 00");
    expect(sysErr).toContain("Read-only file system");
    expect(sysRo).toBe("sys-ro");
    expect(shm).toBe("1777 directory");
    expect(dnull).toBe("666 character special file");
  });

  test("--network none: only a loopback interface, and it is up", () => {
    const r = run(["--network", "none", "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok"]);
    expect(r.stdout).toBe("lo\nunknown\nping-ok\n");
  });

  test("generated /etc/hosts and /etc/resolv.conf", () => {
    const r = run(["-h", "web", "sh", "-c", "head -1 /etc/hosts; tail -1 /etc/hosts; grep -c '^nameserver 127' /etc/resolv.conf"]);
    const [first, last, loopbackServers] = r.stdout.split("\n");
    expect(first).toBe("127.0.0.1\tlocalhost");
    expect(last).toMatch(/^10\.88\.\d+\.\d+\tweb$/);
    expect(loopbackServers).toBe("0");
    const none = run(["--network", "none", "-h", "web", "head", "-1", "/etc/hosts"]);
    expect(none.stdout).toBe("127.0.0.1\tlocalhost web\n");
  });

  test("the overlay keeps writes in the container: not in DIR, not in the next container", () => {
    const before = treeListing(fx.rootfs);
    expect(run(["sh", "-c", "echo data > /written && rm /etc/motd && chmod 700 /bin && cat /written"]).stdout).toBe("data\n");
    expect(existsSync(join(fx.rootfs, "written"))).toBe(false);
    expect(run(["sh", "-c", "ls /written 2>&1; ls /etc/motd; stat -c %a /bin"]).stdout).toBe(
      "ls: /written: No such file or directory\n/etc/motd\n755\n",
    );
    expect(treeListing(fx.rootfs)).toEqual(before);
  });

  test("-e, --env-file and the default environment", () => {
    const envFile = join(fx.work, "env");
    writeFileSync(envFile, "# comment\nFROM_FILE=1\nOVERRIDE=file\n\n");
    const r = cbox(["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, "--env-file", envFile, "-e", "OVERRIDE=flag", "-e", "FROM_HOST", "--env", "A=b=c", "env"], {
      env: { FROM_HOST: "host-value" },
    });
    const env = new Set(r.stdout.trim().split("\n"));
    for (const e of ["FROM_FILE=1", "OVERRIDE=flag", "FROM_HOST=host-value", "A=b=c", "HOME=/root", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]) {
      expect(env).toContain(e);
    }
    expect([...env].filter((e) => e.startsWith("HOSTNAME="))).toHaveLength(1);
  });

  test("-w creates and enters the working directory", () => {
    expect(run(["-w", "/srv/app/data", "pwd"]).stdout).toBe("/srv/app/data\n");
    expect(run(["--workdir", "/etc", "pwd"]).stdout).toBe("/etc\n");
  });

  test("-u switches user and group, by number and by name", () => {
    expect(run(["-u", "1000:1000", "id"]).stdout).toBe("uid=1000 gid=1000 groups=1000\n");
    expect(run(["-u", "nobody", "sh", "-c", "id -un; id -g; echo $HOME"]).stdout).toBe("nobody\n65534\n/\n");
    const r = run(["-u", "1000", "touch", "/etc/x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Permission denied");
  });

  test("-i passes stdin through; without it stdin is empty", () => {
    expect(run(["-i", "cat"], "hello stdin\n").stdout).toBe("hello stdin\n");
    expect(run(["cat"], "hello stdin\n").stdout).toBe("");
  });

  test("a dynamically linked musl program runs", () => {
    expect(run(["musl-hello"]).stdout).toBe("hello from musl\n");
  });

  test("--name is unique while the container exists, and rm frees it", () => {
    const first = cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, "--name", "web", "true"]);
    expect(first.code).toBe(0);
    const second = cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, "--name", "web", "true"]);
    expect(second.code).toBe(125);
    expect(second.stderr).toMatch(/^cbox: the name "web" is already in use by container [0-9a-f]{12}; remove it or pick another name\n$/);
    expect(cbox(["rm", "--root", fx.store, "web"]).stdout).toBe("web\n");
    expect(cbox(["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, "--name", "web", "true"]).code).toBe(0);
    expect(treeListing(join(fx.store, "containers"))).toEqual([]);
    expect(treeListing(join(fx.store, "names"))).toEqual([]);
  });
});
