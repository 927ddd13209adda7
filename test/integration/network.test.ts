// Networking for real: the bridge, veths, published ports and rootless slirp4netns. Every test
// runs cbox inside a network namespace the test makes (its "host"), so cbox0, its subnet, the
// firewall table and every address live there and vanish with it; traffic stays on this machine.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { asUser, baseEnv, cboxBin, isRoot, processesWith, rootfsFixture, rootlessUserFixture, type Result, type RunAs } from "./helpers.ts";

const skip = !isRoot;
if (skip) console.log("network tests: skipped (they need root to make network namespaces)");

/** A network namespace held by a sleeping process, with loopback up; killed by pid at the end. */
class TestHost {
  readonly holder = Bun.spawn(["unshare", "--net", "sleep", "3600"], { stdout: "ignore", stderr: "ignore" });
  private readonly prefix: string[];

  constructor() {
    // unshare has made the namespace once the holder's differs from ours.
    for (let i = 0; i < 200 && sameNet(this.holder.pid); i++) Bun.sleepSync(5);
    this.prefix = ["nsenter", `--net=/proc/${this.holder.pid}/ns/net`, "--"];
    this.must("ip", "link", "set", "lo", "up");
  }

  run(cmd: string[], env: Record<string, string> = {}, as?: RunAs): Result {
    const res = Bun.spawnSync([...this.prefix, ...asUser(as), ...cmd], { stdout: "pipe", stderr: "pipe", env: { ...baseEnv(as), ...env } });
    return { code: res.exitCode ?? -1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
  }

  must(...cmd: string[]): string {
    const res = this.run(cmd);
    if (res.code !== 0) throw new Error(`${cmd.join(" ")}: ${res.stderr}`);
    return res.stdout;
  }

  cbox(args: string[], opts: { env?: Record<string, string>; as?: RunAs } = {}): Result {
    return this.run([cboxBin, ...args], opts.env, opts.as);
  }

  /** An HTTP GET from this namespace; its body, "" when nothing answered. */
  get(url: string): string {
    return httpBody(this.run(httpGet(url)).stdout);
  }

  /** Waits (up to 10 s) for a server to answer. */
  waitFor(url: string): string {
    for (let i = 0; i < 100; i++) {
      const body = this.get(url);
      if (body) return body;
      Bun.sleepSync(100);
    }
    return "";
  }

  /**
   * The links, once the veths cbox has set down at a container's end are gone: the kernel takes
   * them apart with the container's network namespace, in the background (up to 2 s here; a veth
   * still down after that is listed, so a leak still shows).
   */
  links(): string[] {
    let lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      lines = this.must("ip", "-o", "link", "show").split("\n").filter(Boolean);
      const releasing = lines.some((l) => /^\d+: cb[0-9a-f]{12}[@:]/.test(l) && !/<([^>]*,)?UP[,>]/.test(l));
      if (!releasing) break;
      Bun.sleepSync(20);
    }
    return lines.map((l) => l.split(":")[1]!.trim().split("@")[0]!);
  }

  /** cbox's firewall entries as text: the nft table, or the iptables chains. */
  firewall(): string {
    const nft = this.run(["nft", "list", "table", "ip", "cbox"]);
    const ipt = this.run(["sh", "-c", "iptables-save 2>/dev/null | grep -i cbox"]);
    return `${nft.stdout}\n${ipt.stdout}`;
  }

  end(): void {
    this.holder.kill(9);
  }
}

function sameNet(pid: number): boolean {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino === statSync("/proc/self/ns/net").ino;
  } catch {
    return true;
  }
}

/**
 * An HTTP GET with busybox nc, in the test host or a container (Debian's static busybox wget
 * crashes in glibc's resolver code, even for numeric addresses).
 */
function httpGet(url: string): string[] {
  const m = /^http:\/\/([\d.]+)(?::(\d+))?\/$/.exec(url);
  if (!m) throw new Error(`httpGet: ${url}`);
  return ["sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 ${m[1]} ${m[2] ?? "80"}`];
}

function httpBody(response: string): string {
  const at = response.indexOf("\r\n\r\n");
  return response.startsWith("HTTP/1.") && at >= 0 ? response.slice(at + 4) : "";
}

/** A server in a container: busybox httpd on port 80 answering `body`. */
function serve(body: string): string[] {
  return ["sh", "-c", `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 80 -h /www`];
}

/** The addresses leased in the store: {ip: container id}. */
function leases(store: string): Record<string, string> {
  const file = join(store, "network/leases.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")).leases : {};
}

describe.skipIf(skip)("bridge network (root)", () => {
  const fx = rootfsFixture();
  let host: TestHost;
  const run = (args: string[], env?: Record<string, string>) => host.cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, ...args], { env });
  const cb = (args: string[], env?: Record<string, string>) => host.cbox([args[0]!, "--root", fx.store, ...args.slice(1)], { env });

  beforeAll(() => {
    host = new TestHost();
  });
  afterAll(() => {
    const left = cb(["ps", "-a", "-q"]).stdout.split("\n").filter(Boolean);
    if (left.length) cb(["rm", "-f", ...left]);
    host?.end();
  });

  test("a container gets eth0 on cbox0 with an address of its subnet and a default route", () => {
    const res = run(["--rm", "sh", "-c", "ip -o -4 addr show eth0; ip route"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const m = /inet (10\.88\.\d+\.\d+)\/16/.exec(res.stdout);
    expect(m).not.toBeNull();
    expect(res.stdout).toContain("default via 10.88.0.1 dev eth0");
    expect(host.must("ip", "-o", "-4", "addr", "show", "cbox0")).toContain("inet 10.88.0.1/16");
  });

  test("/etc/hosts names the container by its address; the bridge stays after it", () => {
    const res = run(["--rm", "--hostname", "web", "sh", "-c", "cat /etc/hosts; ip -o -4 addr show eth0"]);
    expect(res.code).toBe(0);
    const ip = /inet (10\.88\.\d+\.\d+)/.exec(res.stdout)![1];
    expect(res.stdout).toMatch(new RegExp(`^${ip!.replaceAll(".", "\\.")}\\s+web$`, "m"));
    expect(host.links()).toContain("cbox0");
  });

  test("two containers on the bridge talk TCP; the host reaches one by its address", () => {
    const server = run(["-d", "--name", "srv", ...serve("from-srv")]);
    expect(server.code).toBe(0);
    const id = server.stdout.trim();
    try {
      const ip = JSON.parse(cb(["inspect", id]).stdout)[0].NetworkSettings.IPAddress as string;
      expect(ip).toMatch(/^10\.88\./);
      expect(host.waitFor(`http://${ip}/`)).toBe("from-srv\n");
      const client = run(["--rm", ...httpGet(`http://${ip}/`)]);
      expect(client.stderr).toBe("");
      expect(httpBody(client.stdout)).toBe("from-srv\n");
    } finally {
      cb(["rm", "-f", id]);
    }
  });

  test("-p HOST:CONTAINER reaches the container from the host's 127.0.0.1 and the bridge address, and from another container", () => {
    const server = run(["-d", "-p", "8080:80", ...serve("published")]);
    expect(server.stderr).toBe("");
    const id = server.stdout.trim();
    try {
      expect(host.waitFor("http://127.0.0.1:8080/")).toBe("published\n");
      expect(host.get("http://10.88.0.1:8080/")).toBe("published\n");
      const other = run(["--rm", ...httpGet("http://10.88.0.1:8080/")]);
      expect(httpBody(other.stdout)).toBe("published\n");
      expect(cb(["port", id]).stdout).toBe("80/tcp -> 0.0.0.0:8080\n");
      expect(cb(["ps"]).stdout).toContain("0.0.0.0:8080->80/tcp");
    } finally {
      cb(["rm", "-f", id]);
    }
    expect(host.get("http://127.0.0.1:8080/")).toBe("");
  });

  test("a container reaches its own published port (hairpin)", () => {
    const get = httpGet("http://10.88.0.1:8081/")[2];
    const res = run(["--rm", "-p", "8081:80", "sh", "-c", `mkdir /www; echo self > /www/index.html; httpd -p 80 -h /www; sleep 0.2; ${get}`]);
    expect(httpBody(res.stdout)).toBe("self\n");
  });

  test("-p CONTAINER_PORT takes a free host port, shown by cbox port and ps, and it answers", () => {
    const server = run(["-d", "-p", "80", ...serve("free-port")]);
    const id = server.stdout.trim();
    try {
      const line = cb(["port", id, "80/tcp"]).stdout.trim();
      const m = /^0\.0\.0\.0:(\d+)$/.exec(line);
      expect(m).not.toBeNull();
      expect(cb(["ps", "--format", "json"]).stdout).toContain(`0.0.0.0:${m![1]}->80/tcp`);
      expect(host.waitFor(`http://127.0.0.1:${m![1]}/`)).toBe("free-port\n");
    } finally {
      cb(["rm", "-f", id]);
    }
  });

  test("-p 127.0.0.1:PORT answers on loopback only", () => {
    host.must("ip", "link", "add", "cbt-dummy", "type", "veth", "peer", "name", "cbt-dummy-peer");
    host.must("ip", "addr", "add", "192.0.2.1/24", "dev", "cbt-dummy");
    host.must("ip", "link", "set", "cbt-dummy", "up");
    const server = run(["-d", "-p", "127.0.0.1:8082:80", ...serve("loopback-only")]);
    const id = server.stdout.trim();
    try {
      expect(host.waitFor("http://127.0.0.1:8082/")).toBe("loopback-only\n");
      expect(host.get("http://192.0.2.1:8082/")).toBe("");
      expect(cb(["port", id]).stdout).toBe("80/tcp -> 127.0.0.1:8082\n");
    } finally {
      cb(["rm", "-f", id]);
      host.must("ip", "link", "del", "cbt-dummy");
    }
  });

  test("a udp port is published too", () => {
    // Debian's busybox nc has no -u (and there is no udpsvd): a UDP server cannot run in the test
    // rootfs, so the container only lives while its rule is checked (a container that exits at
    // once has its ports released, which made this test race its own container's end).
    const server = run(["-d", "-p", "5353:53/udp", "sleep", "3105"]);
    const id = server.stdout.trim();
    try {
      expect(cb(["port", id]).stdout).toBe("53/udp -> 0.0.0.0:5353\n");
      expect(cb(["ps", "-q"]).stdout).toBe(`${id.slice(0, 12)}\n`);
      expect(host.firewall()).toContain("5353");
    } finally {
      cb(["rm", "-f", id]);
    }
  });

  test("outbound NAT for the subnet is in place", () => {
    const res = run(["--rm", "true"]);
    expect(res.code).toBe(0);
    expect(host.firewall()).toMatch(/masquerade|MASQUERADE/);
    expect(host.must("cat", "/proc/sys/net/ipv4/ip_forward").trim()).toBe("1");
  });

  test("--network none has loopback only; --network host sees the host's links", () => {
    const none = run(["--rm", "--network", "none", "cat", "/proc/net/dev"]);
    expect(none.code).toBe(0);
    const names = none.stdout.split("\n").slice(2).filter(Boolean).map((l) => l.split(":")[0]!.trim());
    expect(names).toEqual(["lo"]);
    host.must("ip", "link", "add", "cbt-seen", "type", "veth", "peer", "name", "cbt-seen-peer");
    try {
      const hostNet = run(["--rm", "--network", "host", "cat", "/proc/net/dev"]);
      expect(hostNet.code).toBe(0);
      expect(hostNet.stdout).toContain("cbt-seen");
      expect(hostNet.stdout).toContain("cbox0");
    } finally {
      host.must("ip", "link", "del", "cbt-seen");
    }
  });

  test("-p with --network host is ignored with a warning, as docker does", () => {
    const res = run(["--rm", "--network", "host", "-p", "9000:80", "true"]);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/warning: .*published ports .*host/i);
  });

  test("bad input: one line, 125, nothing left", () => {
    const before = { links: host.links(), firewall: host.firewall(), leases: leases(fx.store) };
    const cases: [string[], RegExp][] = [
      [["--network", "bogus", "true"], /--network "bogus"/],
      [["-p", "99999:80", "true"], /99999/],
      [["-p", "80:0", "true"], /port/],
      [["-p", "8080:80/sctp", "true"], /sctp/],
      [["-p", "[::1]:8080:80", "true"], /IPv6|::1/],
      [["--network", "none", "-p", "8080:80", "true"], /none/],
    ];
    for (const [args, message] of cases) {
      const res = run(args);
      expect(res.code).toBe(125);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(res.stderr).toMatch(message);
    }
    expect(cb(["ps", "-a", "-q"]).stdout).toBe("");
    expect({ links: host.links(), firewall: host.firewall(), leases: leases(fx.store) }).toEqual(before);
  });

  test("a host port published twice, or in use on the host: 125, one line, nothing of the second left", () => {
    const first = run(["-d", "-p", "8090:80", ...serve("first")]);
    const id = first.stdout.trim();
    const listener = Bun.spawn(["nsenter", `--net=/proc/${host.holder.pid}/ns/net`, "busybox", "nc", "-l", "-p", "8091"], { stdout: "ignore", stderr: "ignore" });
    try {
      expect(host.waitFor("http://127.0.0.1:8090/")).toBe("first\n");
      const before = { links: host.links(), firewall: host.firewall(), leases: leases(fx.store) };
      const again = run(["--rm", "-p", "8090:80", "true"]);
      expect(again.code).toBe(125);
      expect(again.stderr.trim().split("\n")).toHaveLength(1);
      expect(again.stderr).toContain("8090");
      Bun.sleepSync(200);
      const taken = run(["--rm", "-p", "8091:80", "true"]);
      expect(taken.code).toBe(125);
      expect(taken.stderr).toContain("8091");
      // Its network made, then its command not found: the folder's removal releases lease, port and veth
      const noCommand = run(["--rm", "-p", "8092:80", "/no/such/command"]);
      expect(noCommand.code).toBe(127);
      expect({ links: host.links(), firewall: host.firewall(), leases: leases(fx.store) }).toEqual(before);
      expect(cb(["ps", "-a", "-q"]).stdout.trim()).toBe(id.slice(0, 12));
      expect(host.get("http://127.0.0.1:8090/")).toBe("first\n");
    } finally {
      listener.kill(9);
      cb(["rm", "-f", id]);
    }
  });

  test("after rm of every container no veth, lease or firewall entry of theirs is left; also after SIGKILL of cbox", async () => {
    const ids: string[] = [];
    for (const port of [8100, 8101]) ids.push(run(["-d", "-p", `${port}:80`, ...serve(`c${port}`)]).stdout.trim());
    const killed = Bun.spawn(["nsenter", `--net=/proc/${host.holder.pid}/ns/net`, cboxBin, "run", "--root", fx.store, "--rootfs", fx.rootfs, "-p", "8102:80", ...serve("killed")], { stdout: "ignore", stderr: "ignore", env: baseEnv() });
    try {
      expect(host.waitFor("http://127.0.0.1:8100/")).toBe("c8100\n");
      expect(host.waitFor("http://127.0.0.1:8102/")).toBe("killed\n");
      const vethsRunning = host.links().filter((l) => l.startsWith("cb") && l !== "cbox0");
      expect(vethsRunning).toHaveLength(3);
      killed.kill(9);
      await killed.exited;
      for (const id of ids) expect(cb(["rm", "-f", id]).code).toBe(0);
      // The killed cbox's container is cleaned by the next command.
      cb(["ps", "-a"]);
      cb(["rm", "-f", ...cb(["ps", "-a", "-q"]).stdout.trim().split("\n").filter(Boolean)]);
      expect(host.links().filter((l) => l.startsWith("cb") && l !== "cbox0")).toEqual([]);
      expect(leases(fx.store)).toEqual({});
      const fw = host.firewall();
      for (const id of ids) expect(fw).not.toContain(id.slice(0, 12));
      for (const port of ["8100", "8101", "8102"]) expect(fw).not.toContain(port);
      expect(host.get("http://127.0.0.1:8102/")).toBe("");
      // The bridge and cbox's table stay for the next container.
      expect(host.links()).toContain("cbox0");
    } finally {
      killed.kill(9);
      cb(["rm", "-f", ...ids]);
    }
  });
});

describe.skipIf(skip)("bridge network details (root)", () => {
  const fx = rootfsFixture();

  test("a subnet taken by a host route: cbox0 takes the next one", () => {
    const host = new TestHost();
    try {
      host.must("ip", "link", "add", "cbt-lan", "type", "veth", "peer", "name", "cbt-lan-peer");
      host.must("ip", "link", "set", "cbt-lan", "up");
      host.must("ip", "route", "add", "10.88.0.0/16", "dev", "cbt-lan");
      const res = host.cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, "--rm", "ip", "-o", "-4", "addr", "show", "eth0"]);
      expect(res.stderr).toBe("");
      expect(res.stdout).toMatch(/inet 10\.89\.\d+\.\d+\/16/);
    } finally {
      host.end();
    }
  });

  test("a link named cbox0 that is not cbox's: 125, one line, nothing made", () => {
    const host = new TestHost();
    try {
      host.must("ip", "link", "add", "cbox0", "type", "veth", "peer", "name", "cbt-not-cbox");
      const before = { links: host.links(), firewall: host.firewall() };
      const res = host.cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, "--rm", "true"]);
      expect(res).toEqual({ code: 125, stdout: "", stderr: "cbox: a link named cbox0 exists and is not cbox's; remove it, or use --network none\n" });
      expect({ links: host.links(), firewall: host.firewall() }).toEqual(before);
      expect(host.cbox(["ps", "-a", "-q", "--root", fx.store]).stdout).toBe("");
    } finally {
      host.end();
    }
  });

  test("with the iptables driver: published port, NAT, and nothing left after rm; a foreign rule survives", () => {
    const host = new TestHost();
    const env = { CBOX_FIREWALL: "iptables" };
    try {
      host.must("iptables", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "9999", "-j", "ACCEPT", "-m", "comment", "--comment", "not-cbox");
      const server = host.cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, "-d", "-p", "8200:80", ...serve("via-iptables")], { env });
      expect(server.stderr).toBe("");
      const id = server.stdout.trim();
      try {
        expect(host.waitFor("http://127.0.0.1:8200/")).toBe("via-iptables\n");
        expect(host.firewall()).toContain("MASQUERADE");
      } finally {
        expect(host.cbox(["rm", "--root", fx.store, "-f", id], { env }).code).toBe(0);
      }
      expect(host.get("http://127.0.0.1:8200/")).toBe("");
      expect(host.firewall()).not.toContain(id.slice(0, 12));
      expect(host.must("iptables-save")).toContain("not-cbox");
    } finally {
      host.end();
    }
  });

  test("a host whose FORWARD policy is DROP: containers still talk to each other", () => {
    const host = new TestHost();
    try {
      host.must("iptables", "-w", "-P", "FORWARD", "DROP");
      const run = (args: string[]) => host.cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, ...args]);
      const id = run(["-d", ...serve("through-drop")]).stdout.trim();
      try {
        const ip = JSON.parse(host.cbox(["inspect", "--root", fx.store, id]).stdout)[0].NetworkSettings.IPAddress;
        expect(host.waitFor(`http://${ip}/`)).toBe("through-drop\n");
        const client = run(["--rm", ...httpGet(`http://${ip}/`)]);
        expect(httpBody(client.stdout)).toBe("through-drop\n");
      } finally {
        host.cbox(["rm", "--root", fx.store, "-f", id]);
      }
    } finally {
      host.end();
    }
  });
});

describe.skipIf(skip)("rootless network (slirp4netns)", () => {
  const fx = rootlessUserFixture("cbox-net-user", 1_400_000);
  let host: TestHost;
  const tun = { open: "", closed: "" };
  const slirp = { CBOX_ROOTLESS_NETWORK: "slirp4netns" };

  /**
   * cbox as the user, in the test host, with a /dev/net/tun the user may open (this machine's is
   * 0600), or one it may not.
   */
  const userCbox = (args: string[], env: Record<string, string> = slirp, node = tun.open) => {
    const inner = [...asUser(fx.as), cboxBin, args[0]!, "--root", fx.store, ...args.slice(1)];
    const script = `mount --bind ${node} /dev/net/tun && exec "$@"`;
    return host.run(["unshare", "--mount", "sh", "-c", script, "sh", ...inner], { ...baseEnv(fx.as), ...env });
  };

  beforeAll(() => {
    host = new TestHost();
    for (const [kind, mode] of [["open", 0o666], ["closed", 0o600]] as const) {
      tun[kind] = join(fx.work, `tun-${kind}`);
      Bun.spawnSync(["mknod", tun[kind], "c", "10", "200"]);
      chmodSync(tun[kind], mode);
    }
  });
  afterAll(() => host?.end());

  test("a published port of a rootless container answers on the host's 127.0.0.1; slirp4netns goes with the container", () => {
    const server = userCbox(["run", "--rootfs", fx.rootfs, "-d", "-p", "8300:80", ...serve("rootless")]);
    expect(server.stderr).toBe("");
    expect(server.code).toBe(0);
    const id = server.stdout.trim();
    try {
      expect(host.waitFor("http://127.0.0.1:8300/")).toBe("rootless\n");
      expect(processesWith("slirp4netns").length).toBeGreaterThan(0);
      expect(userCbox(["port", id]).stdout).toBe("80/tcp -> 0.0.0.0:8300\n");
    } finally {
      expect(userCbox(["rm", "-f", id]).code).toBe(0);
    }
    expect(host.get("http://127.0.0.1:8300/")).toBe("");
    expect(processesWith("slirp4netns").filter((p) => !p.includes("nsenter"))).toEqual([]);
  });

  test("a rootless container has eth0 from slirp4netns and slirp's resolver", () => {
    const res = userCbox(["run", "--rootfs", fx.rootfs, "--rm", "sh", "-c", "ip -o -4 addr show eth0; cat /etc/resolv.conf"]);
    expect(res.stderr).toBe("");
    expect(res.stdout).toContain("inet 10.0.2.100/24");
    expect(res.stdout).toContain("nameserver 10.0.2.3");
    expect(processesWith("slirp4netns")).toEqual([]);
  });

  test("without a usable /dev/net/tun: said once, loopback only; -p refused in one line", () => {
    const first = userCbox(["run", "--rootfs", fx.rootfs, "--rm", "cat", "/proc/net/dev"], slirp, tun.closed);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe("cbox: warning: containers get loopback only (--network none): /dev/net/tun is missing or not open to this user (slirp4netns needs it)\n");
    expect(first.stdout).toContain("lo:");
    expect(first.stdout).not.toContain("eth0");
    const second = userCbox(["run", "--rootfs", fx.rootfs, "--rm", "true"], slirp, tun.closed);
    expect(second.stderr).toBe("");
    const published = userCbox(["run", "--rootfs", fx.rootfs, "--rm", "-p", "8301:80", "true"], slirp, tun.closed);
    expect(published.code).toBe(125);
    expect(published.stderr).toBe("cbox: cannot publish ports: /dev/net/tun is missing or not open to this user (slirp4netns needs it)\n");
    expect(userCbox(["ps", "-a", "-q"]).stdout).toBe("");
  });

  test("CBOX_ROOTLESS_NETWORK=none: loopback only, without a word", () => {
    const res = userCbox(["run", "--rootfs", fx.rootfs, "--rm", "cat", "/proc/net/dev"], { CBOX_ROOTLESS_NETWORK: "none" });
    expect(res.stderr).toBe("");
    expect(res.stdout).not.toContain("eth0");
  });

  test("SIGKILL of a rootless cbox: the next command stops its slirp4netns", async () => {
    const inner = [...asUser(fx.as), cboxBin, "run", "--root", fx.store, "--rootfs", fx.rootfs, "-p", "8302:80", ...serve("doomed")];
    const script = `mount --bind ${tun.open} /dev/net/tun && exec "$@"`;
    const proc = Bun.spawn(["nsenter", `--net=/proc/${host.holder.pid}/ns/net`, "unshare", "--mount", "sh", "-c", script, "sh", ...inner], { stdout: "ignore", stderr: "ignore", env: { ...baseEnv(fx.as), ...slirp } });
    try {
      expect(host.waitFor("http://127.0.0.1:8302/")).toBe("doomed\n");
    } finally {
      proc.kill(9);
      await proc.exited;
    }
    userCbox(["ps", "-a"]);
    expect(processesWith("slirp4netns")).toEqual([]);
    expect(host.get("http://127.0.0.1:8302/")).toBe("");
    const left = userCbox(["ps", "-a", "-q"]).stdout.trim().split("\n").filter(Boolean);
    if (left.length) userCbox(["rm", "-f", ...left]);
  });
});

