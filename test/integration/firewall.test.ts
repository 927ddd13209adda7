// The firewall drivers against the real nft and iptables (both backends), each inside network
// namespaces this file makes and kills: the host's own firewall is never touched. Every command
// the drivers run goes through a runner that enters the test's namespace first (and refuses to
// run when that namespace is the host's); the nft driver's netlink variants open their netlink
// sockets in that namespace too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readlinkSync } from "node:fs";
import { detectFirewall, FirewallError, makeFirewall, namespaceOf, type Firewall, type FirewallPlace, type PublishedPort, type Runner } from "../../src/linux/firewall/index.ts";
import { findBinary, spawnRunner } from "../../src/linux/firewall/common.ts";

const isRoot = process.getuid!() === 0;
const tools = ["nft", "iptables", "iptables-legacy", "unshare", "nsenter", "ip", "busybox", "sleep", "timeout"];
const path = Object.fromEntries(tools.map((t) => [t, findBinary(t, process.env)]));
const missing = tools.filter((t) => !path[t]);
const skipped = !isRoot ? "needs root (it changes the firewall of network namespaces it makes)" : missing.length ? `missing tools: ${missing.join(", ")}` : undefined;
if (skipped) {
  test.skip(`firewall drivers: skipped: ${skipped}`, () => {});
  console.log(`firewall integration tests skipped: ${skipped}`);
}

const hostNetns = readlinkSync("/proc/self/ns/net");

/** A network namespace held by a sleeping process, killed by its pid when done. */
class Netns {
  readonly proc = Bun.spawn([path.unshare!, "--net", path.sleep!, "600"], { stdout: "ignore", stderr: "ignore" });
  readonly pid = this.proc.pid;

  constructor() {
    for (let i = 0; i < 400; i++) {
      if (this.inOwnNetns()) return;
      Bun.sleepSync(5);
    }
    throw new Error(`unshare --net (pid ${this.pid}) did not get its own network namespace`);
  }

  private inOwnNetns(): boolean {
    try {
      return readlinkSync(`/proc/${this.pid}/ns/net`) !== hostNetns;
    } catch {
      return false;
    }
  }

  /** Runs argv in this namespace; never in the host's. */
  readonly run: Runner = (argv, stdin) => {
    if (!this.inOwnNetns()) throw new Error(`namespace of pid ${this.pid} is gone or is the host's: not running ${argv.join(" ")}`);
    return spawnRunner([path.nsenter!, `--net=/proc/${this.pid}/ns/net`, ...argv], stdin);
  };

  /** stdout of a command that must succeed. */
  sh(...argv: string[]): string {
    const res = this.run(argv);
    if (res.code !== 0) throw new Error(`${argv.join(" ")}: ${res.stderr.trim()}`);
    return res.stdout;
  }

  /** A process left running in this namespace (a server), killed by its pid with the namespace. */
  spawn(...argv: string[]): { pid: number; kill(): void } {
    if (!this.inOwnNetns()) throw new Error("namespace gone");
    const proc = Bun.spawn([path.nsenter!, `--net=/proc/${this.pid}/ns/net`, ...argv], { stdout: "ignore", stderr: "ignore" });
    return { pid: proc.pid, kill: () => proc.kill() };
  }

  sysctl(key: string, value: string): void {
    this.sh("sh", "-c", `echo ${value} > /proc/sys/net/ipv4/${key}`);
  }

  kill(): void {
    this.proc.kill();
  }
}

const net = { bridge: "cbox0", subnet: "10.88.0.0/16" };
const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);
const tcp = (hostPort: number, containerPort: number, hostIp = ""): PublishedPort => ({ hostIp, hostPort, containerPort, proto: "tcp" });
const udp = (hostPort: number, containerPort: number, hostIp = ""): PublishedPort => ({ hostIp, hostPort, containerPort, proto: "udp" });
const portsA = [tcp(8080, 80), tcp(8081, 80, "127.0.0.1"), udp(5353, 53)];
const portsB = [tcp(9090, 80)];

interface Variant {
  name: string;
  /** The iptables the host "has": for foreign rules and the FORWARD policy. */
  iptables: string;
  /** Acting in the test's own network namespace: tools through nsenter, netlink through its ns file. */
  make(place: FirewallPlace): Firewall;
  /** The nft driver, which reads and changes its table through netlink: a start with the table in place runs nothing. */
  netlink?: boolean;
  /** A line of the base that must be in dump() after any publish. */
  masquerade: string;
}

const variants: Variant[] = [
  {
    name: "nft (CBOX_FIREWALL=nft; the table, ports and iptables-nft's FORWARD read and changed through netlink)",
    iptables: "iptables",
    make: (place) => detectFirewall({ ...process.env, CBOX_FIREWALL: "nft" }, place)!,
    netlink: true,
    masquerade: 'ip saddr 10.88.0.0/16 oifname != "cbox0" masquerade',
  },
  {
    name: "nft with iptables-legacy for FORWARD",
    iptables: "iptables-legacy",
    make: (place) => makeFirewall("nft", path.nft!, path["iptables-legacy"], place),
    netlink: true,
    masquerade: 'ip saddr 10.88.0.0/16 oifname != "cbox0" masquerade',
  },
  {
    name: "iptables (CBOX_FIREWALL=iptables; nf_tables backend)",
    iptables: "iptables",
    make: (place) => detectFirewall({ ...process.env, CBOX_FIREWALL: "iptables" }, place)!,
    masquerade: "-A CBOX-POSTROUTING -s 10.88.0.0/16 ! -o cbox0 -j MASQUERADE",
  },
  {
    name: "iptables-legacy",
    iptables: "iptables-legacy",
    make: (place) => makeFirewall("iptables", path["iptables-legacy"]!, undefined, place),
    masquerade: "-A CBOX-POSTROUTING -s 10.88.0.0/16 ! -o cbox0 -j MASQUERADE",
  },
];

for (const v of variants) {
  describe.skipIf(skipped !== undefined)(`firewall: ${v.name}`, () => {
    let host: Netns;
    let container: Netns;
    let outside: Netns;
    let fw: Firewall;
    /** Every command the driver ran, in order. */
    const ran: string[] = [];
    const servers: { kill(): void }[] = [];
    const ipt = () => path[v.iptables]!;
    let foreignNft = "";
    let foreignIpt: string[] = [];

    /** nft's table of cbox and the iptables rules, minus counters: what must not grow. */
    const dump = () => {
      const nft = host.run([path.nft!, "list", "table", "ip", "cbox"]).stdout;
      return `${nft}\n${iptablesRules().join("\n")}`;
    };
    const iptablesRules = () =>
      host
        .sh(`${ipt()}-save`)
        .split("\n")
        .filter((l) => l.startsWith("-") || l.startsWith("*") || l.startsWith(":"))
        .map((l) => l.replace(/ \[\d+:\d+\]$/, ""));
    /** The same without the ports (nft map elements, iptables CBOX rules). */
    const rules = () => dump().replace(/^\s*elements = \{[^}]*\}\n/gm, "").replace(/^-A CBOX .*\n?/gm, "");

    beforeAll(() => {
      host = new Netns();
      container = new Netns();
      outside = new Netns();
      fw = v.make({ run: (argv, stdin) => (ran.push(argv.join(" ")), host.run(argv, stdin)), netfilter: namespaceOf(host.pid) });
      // Something of the user's in each: it must come out of everything as it went in.
      const mine = host.run([path.nft!, "-f", "-"], "add table ip mine\nadd chain ip mine pre { type nat hook prerouting priority -50; policy accept; }\nadd rule ip mine pre tcp dport 7 accept\n");
      expect(mine.stderr).toBe("");
      host.sh(ipt(), "-w", "-t", "nat", "-N", "MINE");
      host.sh(ipt(), "-w", "-t", "nat", "-A", "MINE", "-p", "tcp", "--dport", "7", "-j", "DNAT", "--to-destination", "10.1.1.1:7");
      host.sh(ipt(), "-w", "-t", "nat", "-A", "PREROUTING", "-j", "MINE");
      host.sh(ipt(), "-w", "-A", "FORWARD", "-p", "tcp", "--dport", "7", "-j", "ACCEPT");
      foreignNft = host.sh(path.nft!, "list", "table", "ip", "mine");
      foreignIpt = iptablesRules().filter((l) => l.startsWith("-A") && !l.includes("CBOX"));
      expect(foreignIpt.length).toBe(3);

      // The test's "host": bridge cbox0 10.88.0.1/16 and an uplink to "outside" 198.51.100.0/24;
      // the "container": eth0 10.88.0.2/16 on the bridge, default route via the bridge.
      host.sh(path.ip!, "link", "set", "lo", "up");
      host.sh(path.ip!, "link", "add", "cbox0", "type", "bridge");
      host.sh(path.ip!, "addr", "add", "10.88.0.1/16", "dev", "cbox0");
      host.sh(path.ip!, "link", "set", "cbox0", "up");
      host.sh(path.ip!, "link", "add", "vh0", "type", "veth", "peer", "name", "eth0", "netns", String(container.pid));
      host.sh(path.ip!, "link", "set", "vh0", "master", "cbox0", "up");
      host.sh(path.ip!, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", String(outside.pid));
      host.sh(path.ip!, "addr", "add", "198.51.100.1/24", "dev", "up0");
      host.sh(path.ip!, "link", "set", "up0", "up");
      host.sysctl("conf/cbox0/route_localnet", "1");
      host.sysctl("ip_forward", "1");
      for (const [ns, addr] of [[container, "10.88.0.2/16"], [outside, "198.51.100.2/24"]] as const) {
        ns.sh(path.ip!, "link", "set", "lo", "up");
        ns.sh(path.ip!, "addr", "add", addr, "dev", "eth0");
        ns.sh(path.ip!, "link", "set", "eth0", "up");
      }
      container.sh(path.ip!, "route", "add", "default", "via", "10.88.0.1");
      servers.push(container.spawn(path.timeout!, "120", path.busybox!, "nc", "-ll", "-p", "80", "-e", "echo", "hi from the container"));
      servers.push(outside.spawn(path.timeout!, "120", path.busybox!, "nc", "-ll", "-p", "81", "-e", "echo", "hi from outside"));
    });

    afterAll(() => {
      for (const s of servers) s.kill();
      for (const ns of [host, container, outside]) ns?.kill();
    });

    test("with no ports: the base (outbound NAT, guard); sent again, nothing changes", () => {
      let t = performance.now();
      fw.publish(net, A, "10.88.0.2", []);
      const first = performance.now() - t;
      const base = dump();
      expect(base).toContain(v.masquerade);
      t = performance.now();
      fw.publish(net, A, "10.88.0.2", []);
      console.log(`${v.name}: base publish ${first.toFixed(1)} ms, again ${(performance.now() - t).toFixed(1)} ms (each command via nsenter)`);
      expect(dump()).toBe(base);
      expect(fw.published()).toEqual([]);
    });

    // What a start through netlink still runs: legacy iptables' FORWARD cannot be read there, and
    // this namespace has its filter table (the user's FORWARD rule above).
    const forwardReads = () => (v.iptables === "iptables-legacy" ? [`${ipt()}-save -t filter`] : []);

    if (v.netlink) {
      test("through netlink: with the table in place, starts with and without ports and their removal run no nft", () => {
        const before = dump();
        ran.length = 0;
        try {
          fw.publish(net, C, "10.88.0.4", []);
          fw.publish(net, C, "10.88.0.4", [tcp(7070, 80), udp(7071, 53, "127.0.0.1")]);
          expect(fw.entriesOf(C)).toEqual(["0.0.0.0:7070/tcp -> 10.88.0.4:80", "127.0.0.1:7071/udp -> 10.88.0.4:53"]);
        } finally {
          fw.unpublish(net, C, "10.88.0.4", [tcp(7070, 80), udp(7071, 53, "127.0.0.1")]);
        }
        expect(ran).toEqual([...forwardReads(), ...forwardReads()]);
        expect(dump()).toBe(before);
      });

      test("through netlink: a flushed chain or a table of another subnet is noticed and rewritten by one nft run, ports kept", () => {
        fw.publish(net, C, "10.88.0.4", [tcp(7072, 80)]);
        try {
          const before = dump();
          host.sh(path.nft!, "flush", "chain", "ip", "cbox", "guard");
          ran.length = 0;
          fw.publish(net, C, "10.88.0.4", []);
          expect(ran).toEqual([`${path.nft} -f -`, ...forwardReads()]);
          expect(dump()).toBe(before);
          fw.publish({ bridge: "cbox0", subnet: "10.99.0.0/16" }, C, "10.99.0.4", []);
          expect(dump()).toContain("ip saddr 10.99.0.0/16");
          ran.length = 0;
          fw.publish(net, C, "10.88.0.4", []);
          expect(ran).toEqual([`${path.nft} -f -`, ...forwardReads()]);
          expect(dump()).toBe(before);
          expect(fw.entriesOf(C)).toEqual(["0.0.0.0:7072/tcp -> 10.88.0.4:80"]);
        } finally {
          fw.unpublish(net, C, "10.88.0.4", [tcp(7072, 80)]);
        }
        expect(fw.entriesOf(C)).toEqual([]);
      });
    }

    test("two containers: the second keeps the first's ports, rules are not repeated, a second start is a no-op", () => {
      const before = rules();
      const t = performance.now();
      fw.publish(net, A, "10.88.0.2", portsA);
      console.log(`${v.name}: publish of 3 ports ${(performance.now() - t).toFixed(1)} ms`);
      fw.publish(net, B, "10.88.0.3", portsB);
      expect(rules()).toBe(before);
      expect(fw.entriesOf(A)).toEqual(["0.0.0.0:5353/udp -> 10.88.0.2:53", "0.0.0.0:8080/tcp -> 10.88.0.2:80", "127.0.0.1:8081/tcp -> 10.88.0.2:80"]);
      expect(fw.entriesOf(B)).toEqual(["0.0.0.0:9090/tcp -> 10.88.0.3:80"]);
      const all = dump();
      fw.publish(net, A, "10.88.0.2", portsA);
      fw.publish(net, B, "10.88.0.3", []);
      expect(dump()).toBe(all);
      expect(fw.published().map((e) => e.owner)).toEqual(["aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb", "aaaaaaaaaaaa"]);
    });

    test("a port taken by another container: FirewallError naming it, and nothing of the request is added", () => {
      const before = dump();
      const e1 = (() => {
        try {
          fw.publish(net, B, "10.88.0.3", [tcp(9091, 80), tcp(8080, 80)]);
        } catch (err) {
          return err;
        }
      })();
      expect(e1).toBeInstanceOf(FirewallError);
      expect((e1 as Error).message).toBe("port 0.0.0.0:8080/tcp is already published by container aaaaaaaaaaaa");
      expect(() => fw.publish(net, B, "10.88.0.3", [tcp(8081, 81, "127.0.0.1")])).toThrow("port 127.0.0.1:8081/tcp is already published by container aaaaaaaaaaaa");
      expect(dump()).toBe(before);
      // Another protocol or another address is another key.
      fw.publish(net, B, "10.88.0.3", [udp(8080, 80), tcp(8081, 80, "127.0.0.2")]);
      expect(fw.entriesOf(B)).toEqual(["0.0.0.0:8080/udp -> 10.88.0.3:80", "0.0.0.0:9090/tcp -> 10.88.0.3:80", "127.0.0.2:8081/tcp -> 10.88.0.3:80"]);
      fw.unpublish(net, B, "10.88.0.3", [udp(8080, 80), tcp(8081, 80, "127.0.0.2")]);
      expect(fw.entriesOf(B)).toEqual(["0.0.0.0:9090/tcp -> 10.88.0.3:80"]);
    });

    test("unpublish removes exactly that owner's ports; gone ones and others' are fine", () => {
      fw.unpublish(net, A, "10.88.0.2", portsB); // B's port, asked for by A: not A's, left
      expect(fw.entriesOf(B)).toEqual(["0.0.0.0:9090/tcp -> 10.88.0.3:80"]);
      const t = performance.now();
      fw.unpublish(net, A, "10.88.0.2", portsA);
      console.log(`${v.name}: unpublish of 3 ports ${(performance.now() - t).toFixed(1)} ms`);
      expect(fw.entriesOf(A)).toEqual([]);
      expect(fw.entriesOf(B)).toEqual(["0.0.0.0:9090/tcp -> 10.88.0.3:80"]);
      fw.unpublish(net, A, "10.88.0.2", portsA);
      expect(fw.published().length).toBe(1);
      expect(dump()).toContain(v.masquerade);
    });

    test("FORWARD policy DROP: CBOX-FORWARD is added once, jumped to first", () => {
      host.sh(ipt(), "-w", "-P", "FORWARD", "DROP");
      fw.publish(net, C, "10.88.0.2", []);
      const once = dump();
      fw.publish(net, C, "10.88.0.2", []);
      expect(dump()).toBe(once);
      const forward = host.sh(ipt(), "-w", "-S", "FORWARD").trim().split("\n");
      expect(forward).toEqual(["-P FORWARD DROP", "-A FORWARD -j CBOX-FORWARD", "-A FORWARD -p tcp -m tcp --dport 7 -j ACCEPT"]);
      expect(host.sh(ipt(), "-w", "-S", "CBOX-FORWARD").trim().split("\n")).toEqual([
        "-N CBOX-FORWARD",
        "-A CBOX-FORWARD -i cbox0 -j ACCEPT",
        "-A CBOX-FORWARD -o cbox0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
      ]);
    });

    if (v.netlink) {
      test("through netlink, FORWARD DROP handled: iptables-nft's is checked there (nothing runs), legacy's with iptables-legacy-save only", () => {
        ran.length = 0;
        fw.publish(net, C, "10.88.0.2", []);
        expect(ran).toEqual(forwardReads());
      });
    }

    test("traffic: from the host's 127.0.0.1 and addresses, from outside; outbound is masqueraded; the guard", () => {
      const connect = (ns: Netns, addr: string, port: number, wait = 3) => ns.run([path.busybox!, "nc", "-w", String(wait), addr, String(port)]);
      const hi = "hi from the container\n";
      // Before: nothing listens on 8088 in the host namespace, and the outside has no route back to the subnet.
      expect(connect(host, "127.0.0.1", 8088).stderr).toContain("Connection refused");
      fw.publish(net, C, "10.88.0.2", [tcp(8088, 80), tcp(8089, 80, "127.0.0.1")]);
      for (let i = 0; i < 100 && connect(host, "127.0.0.1", 8088).stdout === ""; i++) Bun.sleepSync(20); // the server may still be starting
      expect(connect(host, "127.0.0.1", 8088).stdout).toBe(hi);
      expect(connect(host, "127.0.0.1", 8089).stdout).toBe(hi);
      expect(connect(host, "10.88.0.1", 8088).stdout).toBe(hi);
      expect(connect(host, "198.51.100.1", 8088).stdout).toBe(hi);
      // Published on 127.0.0.1 only; and the bridge's address is the host's (refused, not dropped by the guard).
      expect(connect(host, "10.88.0.1", 8089).stderr).toContain("Connection refused");
      expect(connect(outside, "198.51.100.1", 8088).stdout).toBe(hi);
      expect(connect(outside, "198.51.100.1", 8089).stderr).toContain("Connection refused");
      // The container reaches the outside (FORWARD DROP is in place from the test before).
      expect(connect(container, "198.51.100.2", 81).stdout).toBe("hi from outside\n");
      // Routed straight to the container's address from outside: dropped by the guard.
      outside.sh(path.ip!, "route", "replace", "10.88.0.0/16", "via", "198.51.100.1");
      expect(connect(outside, "10.88.0.2", 80, 1).stderr).toContain("timed out");
      fw.unpublish(net, C, "10.88.0.2", [tcp(8088, 80), tcp(8089, 80, "127.0.0.1")]);
      expect(connect(host, "127.0.0.1", 8088).stderr).toContain("Connection refused");
      expect(fw.entriesOf(C)).toEqual([]);
    });

    test("the user's own table and rules came out of all of it unchanged", () => {
      expect(host.sh(path.nft!, "list", "table", "ip", "mine")).toBe(foreignNft);
      expect(iptablesRules().filter((l) => l.startsWith("-A") && !l.includes("CBOX"))).toEqual(foreignIpt);
    });
  });
}
