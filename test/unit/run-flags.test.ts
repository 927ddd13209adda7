// The pure parts of run's docker flags: parsing and what they become in the container's files.
import { describe, expect, test } from "bun:test";
import type { BigIntStats } from "node:fs";
import { deviceRules, parseDevices } from "../../src/container/devices.ts";
import { parseEtcFlags } from "../../src/container/etc-flags.ts";
import { etcFiles, withDnsOptions } from "../../src/container/etc-files.ts";
import { parseSysctls, sysctlFile } from "../../src/container/sysctls.ts";
import { parseUlimits } from "../../src/container/ulimits.ts";
import { ownHardLimit, UNLIMITED } from "../../src/linux/rlimits.ts";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max open files            1024                 4096                 files
Max core file size        0                    unlimited            bytes
`;

describe("--ulimit", () => {
  const host = { raiseHard: false, hardLimit: (r: number) => ownHardLimit(r, LIMITS) };
  test("docker's forms; a soft limit alone is the hard one too", () => {
    expect(parseUlimits(["nofile=100:200", "core=-1", "nofile=300"], host)).toEqual([
      { name: "nofile", resource: 7, soft: "300", hard: "300" },
      { name: "core", resource: 4, soft: "-1", hard: "-1" },
    ]);
  });
  test("never above cbox's own hard limit, unless it may raise it", () => {
    expect(() => parseUlimits(["nofile=10:5000"], host)).toThrow("cbox's own hard nofile limit is 4096");
    expect(() => parseUlimits(["nofile=-1"], host)).toThrow("is 4096");
    expect(parseUlimits(["nofile=10:5000"], { ...host, raiseHard: true })[0]!.hard).toBe("5000");
  });
  test("/proc/self/limits read: unlimited, numbers, a missing row", () => {
    expect(ownHardLimit(4, LIMITS)).toBe(UNLIMITED);
    expect(ownHardLimit(7, LIMITS)).toBe(4096n);
    expect(ownHardLimit(0, LIMITS)).toBe(UNLIMITED);
  });
});

function fakeStat(kind: "c" | "b" | "dir" | "file", major = 0, minor = 0): BigIntStats {
  const rdev = (BigInt(major) << 8n) | BigInt(minor);
  return {
    isCharacterDevice: () => kind === "c",
    isBlockDevice: () => kind === "b",
    isDirectory: () => kind === "dir",
    rdev,
    mode: 0o20660n,
    uid: 0n,
    gid: 18n,
  } as unknown as BigIntStats;
}

describe("--device", () => {
  const stats: Record<string, BigIntStats> = { "/dev/ttyUSB0": fakeStat("c", 188, 0), "/dev/sda": fakeStat("b", 8, 0), "/etc/passwd": fakeStat("file") };
  const stat = (p: string) => stats[p];
  test("HOST, HOST:CONTAINER, HOST:PERMISSIONS, HOST:CONTAINER:PERMISSIONS", () => {
    const nodes = parseDevices(["/dev/ttyUSB0", "/dev/sda:/dev/xvdc:r"], stat);
    expect(nodes).toEqual([
      { host: "/dev/ttyUSB0", path: "/dev/ttyUSB0", type: "c", major: 188, minor: 0, mode: 0o660, uid: 0, gid: 18, access: "rwm" },
      { host: "/dev/sda", path: "/dev/xvdc", type: "b", major: 8, minor: 0, mode: 0o660, uid: 0, gid: 18, access: "r" },
    ]);
    expect(deviceRules(nodes)).toEqual([
      { type: "c", major: 188, minor: 0, access: "rwm" },
      { type: "b", major: 8, minor: 0, access: "r" },
    ]);
    expect(parseDevices(["/dev/ttyUSB0:rw"], stat)[0]).toMatchObject({ path: "/dev/ttyUSB0", access: "rw" });
  });
  test("refusals name the flag's value", () => {
    expect(() => parseDevices(["/etc/passwd:/dev/p"], stat)).toThrow("--device /etc/passwd:/dev/p: /etc/passwd is not a device node");
    expect(() => parseDevices(["dev/ttyUSB0"], stat)).toThrow("both paths must be absolute");
    expect(() => parseDevices(["/dev/ttyUSB0:/dev/pts/9"], stat)).toThrow("every container has /dev/pts already");
    expect(() => parseDevices(["/a:/b:/c"], stat)).toThrow("expected HOST[:CONTAINER][:PERMISSIONS]");
  });
});

describe("--sysctl", () => {
  const exists = (p: string) => p !== "/proc/sys/net/ipv4/nothing";
  test("the container's own settings; per-interface ones need not exist on the host", () => {
    expect(parseSysctls(["net.ipv4.ip_forward=1", "kernel.sem=250 32000 32 128", "net.ipv4.conf.eth0.rp_filter=2"], {}, exists)).toEqual({
      "net.ipv4.ip_forward": "1",
      "kernel.sem": "250 32000 32 128",
      "net.ipv4.conf.eth0.rp_filter": "2",
    });
    expect(sysctlFile("fs.mqueue.msg_max")).toBe("/proc/sys/fs/mqueue/msg_max");
  });
  test("the host's settings are refused", () => {
    expect(() => parseSysctls(["kernel.pid_max=1"], {}, exists)).toThrow("not one a container has its own copy of");
    expect(() => parseSysctls(["kernel.shmmax=1"], { ipc: "--ipc host" }, exists)).toThrow("kernel.shmmax: the container shares its IPC namespace (--ipc host), so this would change another's setting");
    expect(() => parseSysctls(["net.ipv4.nothing=1"], {}, exists)).toThrow("this kernel has no such setting");
  });
});

describe("--add-host and --dns", () => {
  test("NAME:IP, NAME=IP, IPv6 and host-gateway; only given flags are kept", () => {
    expect(parseEtcFlags({ addHosts: ["db:192.0.2.7", "v6:2001:db8::1", "w=[2001:db8::2]", "gw:host-gateway"] }, true)).toEqual({
      hosts: [
        { name: "db", ip: "192.0.2.7" },
        { name: "v6", ip: "2001:db8::1" },
        { name: "w", ip: "2001:db8::2" },
        { name: "gw", ip: "host-gateway" },
      ],
    });
    expect(parseEtcFlags({}, true)).toEqual({});
    expect(() => parseEtcFlags({ addHosts: ["gw:host-gateway"] }, false)).toThrow("--network none has none");
  });

  test("host-gateway when the network got has no gateway (a user's without slirp4netns): one line, not an \"undefined\" hosts line", () => {
    const host = { hosts: "127.0.0.1\tlocalhost\n", resolv: { etc: "nameserver 192.0.2.1\n" } };
    expect(() => etcFiles("box", undefined, undefined, host, { hosts: [{ name: "gw", ip: "host-gateway" }] })).toThrow(
      "--add-host gw:host-gateway: this container got no network that reaches the host; give the host's address instead",
    );
  });

  test("hosts lines go after the network's, host-gateway as the gateway", () => {
    const host = { hosts: "127.0.0.1 localhost", resolv: { etc: "nameserver 192.0.2.1\n" } };
    const files = etcFiles("box", { hostFiles: true, gateway: "127.0.0.1" }, undefined, host, { hosts: [{ name: "gw", ip: "host-gateway" }] });
    expect(files.hosts).toBe("127.0.0.1 localhost\n127.0.0.1\tgw\n");
    const bridged = etcFiles("box", { ip: "10.88.0.5", gateway: "10.88.0.1" }, undefined, host, { hosts: [{ name: "gw", ip: "host-gateway" }] });
    expect(bridged.hosts.endsWith("10.88.0.5\tbox\n10.88.0.1\tgw\n")).toBe(true);
  });

  test("--dns flags replace the lines they name and keep the rest", () => {
    const text = "# host\nnameserver 192.0.2.1\nsearch a.example\noptions rotate\n";
    expect(withDnsOptions(text, { servers: ["192.0.2.53"] })).toBe("# host\nnameserver 192.0.2.53\nsearch a.example\noptions rotate\n");
    expect(withDnsOptions(text, { search: ["b.example", "c.example"], options: ["ndots:2"] })).toBe("# host\nnameserver 192.0.2.1\nsearch b.example c.example\noptions ndots:2\n");
    expect(withDnsOptions("", { options: ["edns0"] })).toBe("options edns0\n");
    const none = etcFiles("box", { ip: "10.88.0.5" }, undefined, { resolv: { etc: "nameserver 127.0.0.53\n" } }, { dns: { servers: ["192.0.2.53"] } });
    expect(none).toMatchObject({ resolvConf: "nameserver 192.0.2.53\n", noNameservers: false });
  });
});

describe("IP addresses as --dns and --add-host take them", () => {
  test("IPv4 and IPv6, with :: and an IPv4 tail; not names, not too many groups", async () => {
    const { isIpAddress } = await import("../../src/linux/net/ipv4.ts");
    for (const ok of ["192.0.2.1", "::", "::1", "2001:db8::1", "fe80::a:b:c:d", "1:2:3:4:5:6:7:8", "::ffff:192.0.2.1", "2001:DB8::"]) expect([ok, isIpAddress(ok)]).toEqual([ok, true]);
    for (const bad of ["256.1.1.1", "1.2.3", "db", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1", "12345::", "::ffff:300.1.1.1", "1:2:3:4:5:6:7::8:9", ""]) expect([bad, isIpAddress(bad)]).toEqual([bad, false]);
  });
});
