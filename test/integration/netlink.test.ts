// rtnetlink on the real kernel, in two network namespaces made for the test (held by `sleep`
// processes): H plays the host (bridge, veth), C a container (eth0, its address and default route).
// Nothing is made in the namespace the test runs in; both go away with their sleep.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { addAddress, listAddresses } from "../../src/linux/net/addr.ts";
import { createBridge, createVeth, deleteLink, linkByName, listLinks, setAlias, setHairpin, setUp } from "../../src/linux/net/link.ts";
import { addDefaultRoute, listRoutes } from "../../src/linux/net/route.ts";
import { setSysctl } from "../../src/linux/net/sysctl.ts";
import { NetlinkError, NetlinkSocket } from "../../src/linux/netlink.ts";
import { netShim } from "../../src/sys/shim.ts";

const isRoot = process.getuid!() === 0;
const tools = ["unshare", "nsenter", "ip"].filter((t) => !Bun.which(t));
const skipped = !isRoot ? "needs root (network namespaces, links)" : tools.length ? `missing ${tools.join(", ")}` : undefined;
const BUSYBOX = "/bin/busybox";

const BRIDGE = "cbox0";
const MAC = "02:42:cb:0c:00:01";
const VETH = "vcbox0123456789"; // 15 characters: the most a name may have
const ALIAS = "cbox /var/lib/cbox-test";

/** A `sleep` in a network namespace of its own, and an fd on that namespace. */
interface Netns {
  proc: ReturnType<typeof Bun.spawn>;
  path: string;
  fd: number;
}

/** marker becomes the alias of its loopback, to tell which namespace a socket is in. */
function makeNetns(marker: string): Netns {
  const proc = Bun.spawn(["unshare", "--net", "sleep", "600"], { stdout: "ignore", stderr: "inherit" });
  const path = `/proc/${proc.pid}/ns/net`;
  const ours = readlinkSync("/proc/self/ns/net");
  try {
    for (let i = 0; i < 200 && readlinkSync(path) === ours; i++) Bun.sleepSync(5); // until unshare has run
    if (readlinkSync(path) === ours) throw new Error("unshare --net did not make a namespace");
    inNetns({ path }, ["ip", "link", "set", "lo", "alias", marker]);
    return { proc, path, fd: openSync(path, "r") };
  } catch (err) {
    proc.kill();
    throw err;
  }
}

/** Throws unless the socket is in the namespace marked so: no test may change another one (this host's). */
function assertIn(sock: NetlinkSocket, marker: string): void {
  const alias = linkByName(sock, "lo")?.alias;
  if (alias !== marker) throw new Error(`a socket opened for the namespace marked ${marker} is in another (lo's alias: ${alias}); stopping before changing it`);
}

/** A command run in the namespace; its stdout, failing the test when it fails. */
function inNetns(ns: Pick<Netns, "path">, cmd: string[]): string {
  const r = Bun.spawnSync(["nsenter", `--net=${ns.path}`, ...cmd], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout.toString();
}

function thrownNetlink(fn: () => unknown): NetlinkError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NetlinkError);
    return err as NetlinkError;
  }
  throw new Error("expected a NetlinkError");
}

if (skipped) {
  test.skip(`rtnetlink: skipped: ${skipped}`, () => {});
  console.log(`rtnetlink tests skipped: ${skipped}`);
}

describe.skipIf(skipped !== undefined)("rtnetlink in two network namespaces", () => {
  let h: Netns;
  let c: Netns;
  let host: NetlinkSocket;
  let container: NetlinkSocket;
  let ownNetns: string;
  let bridgeIndex: number;
  let eth0Index: number;

  beforeAll(() => {
    const t = performance.now();
    netShim();
    console.log(`netShim() compiled in ${(performance.now() - t).toFixed(1)} ms`);
    h = makeNetns("cbox-test-H");
    c = makeNetns("cbox-test-C");
    ownNetns = readlinkSync("/proc/thread-self/ns/net");
    host = NetlinkSocket.open(h.fd);
    container = NetlinkSocket.open(c.fd);
    assertIn(host, "cbox-test-H");
    assertIn(container, "cbox-test-C");
  });

  afterAll(() => {
    host?.close();
    container?.close();
    for (const ns of [h, c]) {
      if (!ns) continue;
      closeSync(ns.fd);
      ns.proc.kill();
    }
  });

  test("opening a socket in another namespace leaves this thread in its own", () => {
    expect(readlinkSync("/proc/thread-self/ns/net")).toBe(ownNetns);
    expect(readlinkSync("/proc/self/ns/net")).toBe(ownNetns);
    // Fresh namespaces: each has only its loopback, down.
    expect(listLinks(host).map((l) => [l.name, l.up])).toEqual([["lo", false]]);
    expect(listLinks(container).map((l) => l.name)).toEqual(["lo"]);
  });

  test("a bridge with its MAC, alias and address in H", () => {
    createBridge(host, BRIDGE, MAC);
    const bridge = linkByName(host, BRIDGE)!;
    expect(bridge).toMatchObject({ name: BRIDGE, up: true, mac: MAC });
    expect(bridge.alias).toBeUndefined();
    bridgeIndex = bridge.index;
    setAlias(host, bridgeIndex, ALIAS);
    addAddress(host, bridgeIndex, "10.88.0.1", 16);

    expect(linkByName(host, BRIDGE)).toMatchObject({ index: bridgeIndex, alias: ALIAS });
    expect(listAddresses(host)).toContainEqual({ index: bridgeIndex, ip: "10.88.0.1", prefix: 16 });
    const link = inNetns(h, ["ip", "-d", "link", "show", BRIDGE]);
    expect(link).toContain(`link/ether ${MAC}`);
    expect(link).toContain(`alias ${ALIAS}`);
    expect(link).toMatch(/\n\s+bridge /);
    expect(inNetns(h, ["ip", "-o", "-4", "addr", "show", "dev", BRIDGE])).toContain("inet 10.88.0.1/16 brd 10.88.255.255 scope global cbox0");
  });

  test("a veth pair into C: eth0 up with an address and a default route", () => {
    const t = performance.now();
    createVeth(host, { name: VETH, master: bridgeIndex, mtu: 1450, peerName: "eth0", peerNsFd: c.fd });
    const eth0 = linkByName(container, "eth0")!;
    setUp(container, eth0.index);
    addAddress(container, eth0.index, "10.88.0.2", 16);
    addDefaultRoute(container, "10.88.0.1", eth0.index);
    console.log(`veth + find eth0 + up + address + default route: ${(performance.now() - t).toFixed(2)} ms`);
    eth0Index = eth0.index;
    expect(eth0).toMatchObject({ name: "eth0", mtu: 1450, up: false }); // the peer is made down
    const veth = linkByName(host, VETH)!;
    expect(veth).toMatchObject({ name: VETH, up: true, master: bridgeIndex, mtu: 1450 });
    setHairpin(host, VETH);

    // What ip(8) sees.
    const hostEnd = inNetns(h, ["ip", "-d", "link", "show", VETH]);
    expect(hostEnd).toContain("mtu 1450");
    expect(hostEnd).toContain(`master ${BRIDGE}`);
    expect(hostEnd).toContain("hairpin on");
    expect(hostEnd).toContain("veth");
    expect(linkByName(host, "eth0")).toBeUndefined(); // the peer was made in C, not in H
    const peer = inNetns(c, ["ip", "-d", "link", "show", "eth0"]);
    expect(peer).toContain("mtu 1450");
    expect(peer).toContain("state UP");
    expect(peer).toContain("veth");
    expect(inNetns(c, ["ip", "-o", "-4", "addr", "show", "dev", "eth0"])).toContain("inet 10.88.0.2/16 brd 10.88.255.255 scope global eth0");
    const routes = inNetns(c, ["ip", "-4", "route"]);
    expect(routes).toContain("default via 10.88.0.1 dev eth0 proto static");
    expect(routes).toContain("10.88.0.0/16 dev eth0 proto kernel scope link src 10.88.0.2");

    // What our own dumps see.
    expect(listAddresses(container)).toContainEqual({ index: eth0Index, ip: "10.88.0.2", prefix: 16 });
    expect(listRoutes(container)).toEqual([
      { dst: "0.0.0.0", prefix: 0, gateway: "10.88.0.1", oif: eth0Index, table: 254 },
      { dst: "10.88.0.0", prefix: 16, oif: eth0Index, table: 254 },
    ]);
    expect(listRoutes(host)).toEqual([{ dst: "10.88.0.0", prefix: 16, oif: bridgeIndex, table: 254 }]);
    expect(listLinks(container).find((l) => l.name === "eth0")).toMatchObject({ index: eth0Index, up: true, mtu: 1450 });
  });

  test("traffic: C reaches the bridge's address (ping and TCP), H reaches C", () => {
    expect(inNetns(c, [BUSYBOX, "ping", "-c", "1", "-W", "2", "10.88.0.1"])).toContain("1 packets received");
    expect(inNetns(h, [BUSYBOX, "ping", "-c", "1", "-W", "2", "10.88.0.2"])).toContain("1 packets received");
    const server = Bun.spawn(["nsenter", `--net=${h.path}`, BUSYBOX, "nc", "-l", "-p", "8080"], { stdout: "pipe", stderr: "inherit" });
    try {
      // The listener may not be up yet: retry the connect for a while.
      let sent = false;
      for (let i = 0; i < 50 && !sent; i++) {
        const r = Bun.spawnSync(["nsenter", `--net=${c.path}`, BUSYBOX, "nc", "-w", "2", "10.88.0.1", "8080"], { stdin: Buffer.from("hello from eth0\n"), stderr: "pipe" });
        sent = r.exitCode === 0;
        if (!sent) Bun.sleepSync(20);
      }
      expect(sent).toBe(true);
    } finally {
      setTimeout(() => server.kill(), 3000).unref();
    }
    return server.exited.then(() => new Response(server.stdout).text()).then((got) => expect(got).toBe("hello from eth0\n"));
  });

  test("the kernel's refusals: EEXIST, a name too long, an unreachable gateway, a missing link", () => {
    const exists = thrownNetlink(() => createBridge(host, BRIDGE, MAC));
    expect(exists.message).toBe("create bridge cbox0: file exists (EEXIST)");
    expect(exists).toMatchObject({ errno: 17, code: "EEXIST" });

    const before = listLinks(container).length;
    const long = thrownNetlink(() => createVeth(host, { name: "vcbox0123456789a", master: bridgeIndex, peerName: "eth1", peerNsFd: c.fd }));
    expect(long.message).toBe("create veth vcbox0123456789a: numerical result out of range (ERANGE): Attribute failed policy validation");
    expect(listLinks(container).length).toBe(before);

    // H has no default route yet, and no link reaches 10.99.0.0.
    const unreachable = thrownNetlink(() => addDefaultRoute(host, "10.99.0.1", bridgeIndex));
    expect(unreachable.message).toBe("add default route via 10.99.0.1: network is unreachable (ENETUNREACH): Nexthop has invalid gateway");
    expect(listRoutes(host).some((r) => r.prefix === 0)).toBe(false);

    expect(deleteLink(host, "nosuch0")).toBe(false);
    expect(linkByName(host, "nosuch0")).toBeUndefined();
  });

  test("a sysctl is set in the namespace of whoever writes it", () => {
    const path = "ipv4/conf/cbox0/route_localnet";
    const sysctl = resolve(import.meta.dir, "../../src/linux/net/sysctl.ts");
    const script = `import { readSysctl, setSysctl } from ${JSON.stringify(sysctl)}; setSysctl(${JSON.stringify(path)}, "1"); console.log(readSysctl(${JSON.stringify(path)}));`;
    expect(inNetns(h, [process.execPath, "-e", script])).toBe("1\n");
    expect(inNetns(h, ["cat", `/proc/sys/net/${path}`])).toBe("1\n");
    // A link name longer than 15 characters, so never one of this host's: the error names the sysctl.
    expect(() => setSysctl("ipv4/conf/no-such-link-0123/route_localnet", "1")).toThrow("set net.ipv4.conf.no-such-link-0123.route_localnet to 1: no such file or directory");
  });

  test("deleting the host end removes the pair", () => {
    expect(deleteLink(host, VETH)).toBe(true);
    expect(linkByName(host, VETH)).toBeUndefined();
    expect(linkByName(container, "eth0")).toBeUndefined();
    expect(deleteLink(host, VETH)).toBe(false);
  });
});

// No root needed: how rootless networking speaks to slirp4netns's API socket, synchronously.
describe("a unix stream socket through the shim", () => {
  test("connect, send, shut down the write side, read the answer to its end", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cbox-net-"));
    const path = join(dir, "api.sock");
    // A server in another process: this one blocks in recv() while the answer is awaited.
    const server = Bun.spawn(
      [
        process.execPath,
        "-e",
        `const s = require("node:net").createServer((c) => { let got = ""; c.on("data", (d) => (got += d)); c.on("end", () => c.end(got.toUpperCase())); });
         s.listen(${JSON.stringify(path)}, () => console.log("ready"));
         setTimeout(() => process.exit(1), 10000);`,
      ],
      { stdout: "pipe", stderr: "inherit" },
    );
    try {
      const reader = server.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe("ready\n");
      const net = netShim();
      const fd = net.cbox_unix_connect(Buffer.from(`${path}\0`));
      expect(fd).toBeGreaterThanOrEqual(0);
      const request = Buffer.from('{"execute": "list_hostfwd"}');
      expect(net.cbox_send(fd, request, request.length)).toBe(request.length);
      expect(net.cbox_shutdown_write(fd)).toBe(0);
      const buf = new Uint8Array(4096);
      let answer = "";
      for (let n; (n = net.cbox_recv(fd, buf, buf.length)) > 0; ) answer += new TextDecoder().decode(buf.subarray(0, n));
      closeSync(fd);
      expect(answer).toBe('{"EXECUTE": "LIST_HOSTFWD"}');
      expect(net.cbox_unix_connect(Buffer.from(`${join(dir, "none.sock")}\0`))).toBe(-2); // ENOENT
      expect(net.cbox_unix_connect(Buffer.from(`/${"x".repeat(120)}\0`))).toBe(-36); // ENAMETOOLONG: sun_path holds 107
    } finally {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
