// --pid, --ipc, --uts and --network container:NAME: namespaces shared with the host or with a
// running container, compared by the kernel's namespace inodes.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { cbox, isRoot, rootfsFixture, rootlessUserFixture, type Result } from "./helpers.ts";

const fx = rootfsFixture();
const user = rootlessUserFixture("cbox-sharens", 1_900_000);
const c = (args: string[]) => cbox([args[0]!, "--root", fx.store, ...args.slice(1)]);
const run = (flags: string[], script: string) => c(["run", "--rm", "--network", "none", ...flags, "--rootfs", fx.rootfs, "sh", "-c", script]);
const NAMESPACES = ["net", "ipc", "pid", "uts"];
const nsLines = NAMESPACES.map((n) => `readlink /proc/self/ns/${n}`).join("; ");

/** A detached container for the test, removed by the caller's finally. */
function startTarget(name: string, flags: string[], script = "sleep 300"): { pid: number } {
  const r = c(["run", "-d", "--name", name, "--network", "none", ...flags, "--rootfs", fx.rootfs, "sh", "-c", script]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return { pid: JSON.parse(c(["inspect", name]).stdout)[0].State.Pid };
}

function nsOf(pid: number | "self"): string[] {
  return NAMESPACES.map((n) => readlinkSync(`/proc/${pid}/ns/${n}`));
}

function expectRefused(r: Result, text: string, containersLeft: number) {
  expect(r.stderr).toMatch(text);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.code).toBe(125);
  expect(readdirSync(join(fx.store, "containers")).filter((d) => /^[0-9a-f]{64}$/.test(d))).toHaveLength(containersLeft);
}

describe.skipIf(!isRoot)("sharing namespaces with a container", () => {
  test("--network, --pid and --ipc container:NAME: the target's namespaces, processes, /dev/shm, host name and /etc/hosts", () => {
    try {
      const target = startTarget("target", ["--ipc", "shareable", "--hostname", "webhost"], "echo from-target > /dev/shm/t; sleep 300");
      const [net, ipc, pid] = nsOf(target.pid);
      const r = run(["--network", "container:target", "--pid", "container:target", "--ipc", "container:target"], `${nsLines}; ps -o args | grep -cx 'sleep 300'; cat /dev/shm/t; echo from-joiner > /dev/shm/j; hostname; cat /etc/hosts`);
      expect(r.stderr).toBe("");
      const lines = r.stdout.trim().split("\n");
      expect(lines.slice(0, 3)).toEqual([net!, ipc!, pid!]);
      expect(lines[3]).not.toBe(nsOf(target.pid)[3]); // its own UTS namespace, with the target's name
      expect(lines.slice(4, 7)).toEqual(["1", "from-target", "webhost"]);
      expect(lines.slice(7).join("\n") + "\n").toBe(c(["exec", "target", "cat", "/etc/hosts"]).stdout);
      expect(c(["exec", "target", "cat", "/dev/shm/j"]).stdout).toBe("from-joiner\n");
      const [info] = JSON.parse(c(["inspect", "target"]).stdout);
      expect(info.HostConfig.IpcMode).toBe("shareable");
    } finally {
      c(["rm", "-f", "target"]);
    }
  });

  test("-d --pid container:NAME: the container runs in the target's PID namespace, its monitor outside", () => {
    try {
      const target = startTarget("pidtarget", []);
      const id = c(["run", "-d", "--network", "none", "--pid", "container:pidtarget", "--name", "joiner", "--rootfs", fx.rootfs, "sleep", "301"]).stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const [info] = JSON.parse(c(["inspect", "joiner"]).stdout);
      expect(readlinkSync(`/proc/${info.State.Pid}/ns/pid`)).toBe(readlinkSync(`/proc/${target.pid}/ns/pid`));
      const monitor = Number(readFileSync(`/proc/${info.State.Pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      expect(readlinkSync(`/proc/${monitor}/ns/pid`)).toBe(readlinkSync("/proc/self/ns/pid"));
      expect(c(["exec", "pidtarget", "ps", "-o", "args"]).stdout).toContain("sleep 301");
      expect(info.HostConfig.PidMode).toBe(`container:${JSON.parse(c(["inspect", "pidtarget"]).stdout)[0].Id}`);
    } finally {
      c(["rm", "-f", "joiner", "pidtarget"]);
    }
  });

  test("refused: a target that is not running or not shareable, options the shared namespace decides, bad values", () => {
    try {
      startTarget("private-ipc", []);
      expect(c(["run", "--name", "stopped", "--network", "none", "--rootfs", fx.rootfs, "true"]).code).toBe(0);
      const cases: [string[], string][] = [
        [["--ipc", "container:private-ipc"], "--ipc container:private-ipc: its IPC namespace is private; start it with --ipc shareable to share it"],
        [["--pid", "container:stopped"], "--pid container:stopped: that container is not running; start it first"],
        [["--network", "container:nosuch"], "--network container:nosuch: no such container: nosuch"],
        [["--network", "container:private-ipc", "--hostname", "h"], "--hostname: not with --network container:private-ipc"],
        [["--network", "container:private-ipc", "--add-host", "a:192.0.2.1"], "--add-host: not with --network container:private-ipc"],
        [["--network", "container:private-ipc", "-p", "8080:80"], `-p "8080:80": a container on another container's network`],
        [["--network", "container:private-ipc", "--sysctl", "net.ipv4.ip_forward=1"], "shares its network namespace (--network container:private-ipc)"],
        [["--uts", "host", "--hostname", "h"], "--hostname: the container shares the host's UTS namespace (--uts host)"],
        [["--pid", "bogus"], `--pid "bogus": expected host, container:NAME or private`],
        [["--ipc", "container:"], `--ipc "container:": expected private, shareable, host or container:NAME`],
        [["--uts", "container:x"], `--uts "container:x": expected host or private`],
        [["--userns", "private", "--ipc", "host"], "--ipc host: --userns private gives it a user namespace of its own"],
      ];
      for (const [flags, message] of cases) {
        const r = c(["run", "--rm", ...(flags.includes("--network") ? [] : ["--network", "none"]), ...flags, "--rootfs", fx.rootfs, "true"]);
        expectRefused(r, message, 2);
      }
    } finally {
      c(["rm", "-f", "private-ipc", "stopped"]);
    }
  });

  test("an ordinary user's container cannot share them: one line", () => {
    const r = cbox(["run", "--rm", "--root", user.store, "--network", "none", "--pid", "host", "--rootfs", user.rootfs, "true"], { as: user.as });
    expect(r).toEqual({ code: 125, stdout: "", stderr: "cbox: --pid host: an ordinary user's container has a user namespace of its own, which cannot share these namespaces; run as root without --userns private\n" });
    expect(existsSync(join(user.store, "containers")) ? readdirSync(join(user.store, "containers")) : []).toEqual([]);
  });
});

describe.skipIf(!isRoot)("sharing namespaces with the host", () => {
  test("--pid host, --ipc host, --uts host: the host's namespaces, its processes and host name; the host's name is untouched", () => {
    const before = hostname();
    const r = run(["--pid", "host", "--ipc", "host", "--uts", "host"], `${nsLines}; hostname; test -d /proc/1 && cat /proc/1/comm; echo $HOSTNAME`);
    expect(r.stderr).toBe("");
    const lines = r.stdout.trim().split("\n");
    const host = nsOf("self");
    expect(lines[0]).not.toBe(host[0]); // --network none: its own
    expect(lines.slice(1, 4)).toEqual(host.slice(1));
    expect(lines[4]).toBe(before);
    expect(lines[5]).toBe(readFileSync("/proc/1/comm", "utf8").trim());
    expect(lines[6]).toBe(before);
    expect(hostname()).toBe(before);
  });
});
