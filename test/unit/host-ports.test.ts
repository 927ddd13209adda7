import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { choosePorts, choosePortsOn, ephemeralRange, hostSockets, parsePortRange, parseProcNet, portsInUse, type HostPorts, type HostSocket } from "../../src/container/network/host-ports.ts";
import { MessageWriter, NetlinkSocket } from "../../src/linux/netlink.ts";
import type { PortSpec, Protocol } from "../../src/container/network/spec.ts";
import { thrown } from "./helpers.ts";

// Captured shapes of the kernel's files (little endian: 127.0.0.1 is 0100007F).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1063 1 0000000029f463bd 100 0 0 10 0
   1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1064 1 0000000029f463be 100 0 0 10 0
   2: 0501A8C0:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1065 1 0000000029f463bf 100 0 0 10 0
   3: 0501A8C0:9C40 0101A8C0:01BB 01 00000000:00000000 00:00000000 00000000     0        0 1066 1 0000000029f463c0 20 4 30 10 -1
   4: 0100007F:9C41 0100007F:1F91 06 00000000:00000000 03:00001234 00000000     0        0 0 3 0000000029f463c1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F93 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F94 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000A00000A:1F95 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2003 1 0000000000000000 100 0 0 10 0
   3: 0000C0FD000000000000000001000000:1F96 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2004 1 0000000000000000 100 0 0 10 0
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 3001 2 0000000000000000 0
  101: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3002 2 0000000000000000 0
  102: 0501A8C0:A000 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 3003 2 0000000000000000 0
`;

describe("parseProcNet", () => {
  test("tcp: addresses, ports, LISTEN only counts as listening", () => {
    expect(parseProcNet(TCP, "tcp")).toEqual([
      { ip: "0.0.0.0", port: 8080, listening: true },
      { ip: "127.0.0.1", port: 8081, listening: true },
      { ip: "192.168.1.5", port: 8082, listening: true },
      { ip: "192.168.1.5", port: 40000, listening: false },
      { ip: "127.0.0.1", port: 40001, listening: false },
    ]);
  });

  test("tcp6: wildcard, ::1, IPv4-mapped as IPv4, other IPv6", () => {
    expect(parseProcNet(TCP6, "tcp")).toEqual([
      { ip: "::", port: 8083, listening: true },
      { ip: "::1", port: 8084, listening: true },
      { ip: "10.0.0.10", port: 8085, listening: true },
      { ip: "v6", port: 8086, listening: true },
    ]);
  });

  test("udp: every socket counts (a bound one receives), connected ones too", () => {
    expect(parseProcNet(UDP, "udp")).toEqual([
      { ip: "127.0.0.53", port: 53, listening: true },
      { ip: "0.0.0.0", port: 5353, listening: true },
      { ip: "192.168.1.5", port: 40960, listening: true },
    ]);
  });

  test("headers, blank and garbled lines are skipped", () => {
    expect(parseProcNet("", "tcp")).toEqual([]);
    expect(parseProcNet("header\n\n   0: zzzz:1F90 00000000:0000 0A\n   1: 00000000:1F9 00000000:0000 0A\n   2: 00000000:1F90 x ZZZ\n", "tcp")).toEqual([]);
    // The first line is the header, whatever it holds.
    expect(parseProcNet("   0: 00000000:1F90 00000000:0000 0A\n", "tcp")).toEqual([]);
  });
});

describe("parsePortRange", () => {
  test("the kernel's text", () => {
    expect(parsePortRange("32768\t60999\n")).toEqual([32768, 60999]);
    expect(parsePortRange("1024 1024")).toEqual([1024, 1024]);
  });

  test("anything else is refused", () => {
    for (const text of ["", "32768", "60999 32768", "0 100", "1000 70000", "a b", "1 2 3"]) {
      expect(thrown(() => parsePortRange(text)).message).toBe(`not a port range: "${text.trim()}"`);
    }
  });
});

describe("this host's files", () => {
  test("read without error; the range is sane", () => {
    const [low, high] = ephemeralRange();
    expect(low).toBeGreaterThan(0);
    expect(high).toBeGreaterThanOrEqual(low);
    expect(hostSockets("tcp").every((s) => s.port >= 0 && s.port <= 65535)).toBe(true);
    expect(portsInUse("udp")).toBeInstanceOf(Set);
  });

  test("a port Bun listens on is seen in use", () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      expect(portsInUse("tcp").has(server.port)).toBe(true);
      expect(hostSockets("tcp").some((s) => s.ip === "127.0.0.1" && s.port === server.port && s.listening)).toBe(true);
      expect(thrown(() => choosePorts([port(server.port)], [])).message).toBe(`port ${server.port}/tcp is in use on the host`);
      const [chosen] = choosePorts([port(0)], []);
      const [low, high] = ephemeralRange();
      expect(chosen!.hostPort).not.toBe(server.port);
      expect(chosen!.hostPort >= low && chosen!.hostPort <= high).toBe(true);
    } finally {
      server.stop(true);
    }
  });
});

describe("the kernel's socket tables (sock_diag) and /proc/net", () => {
  /** What /proc/net lists of proto, IPv4 and IPv6, as sorted text. */
  const fromProc = (proto: Protocol) => [`/proc/net/${proto}`, `/proc/net/${proto}6`].flatMap((f) => parseProcNet(readFileSync(f, "utf8"), proto)).map(text).sort();
  const text = (s: HostSocket) => `${s.ip} ${s.port} ${s.listening}`;

  test("every socket: the same as /proc/net lists, tcp and udp, IPv4 and IPv6, listening or not", async () => {
    const v6 = Bun.listen({ hostname: "::", port: 0, socket: { data() {} } });
    const v4 = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const client = await Bun.connect({ hostname: "127.0.0.1", port: v4.port, socket: { data() {} } });
    const udp = await Bun.udpSocket({ port: 0 });
    try {
      // Other tests open and close sockets meanwhile: compare on a reading during which /proc/net did not change.
      for (const proto of ["tcp", "udp"] as const) {
        let reading: { before: string[]; diag: string[]; after: string[] } | undefined;
        for (let tries = 0; tries < 20 && (!reading || reading.before.join() !== reading.after.join()); tries++) {
          reading = { before: fromProc(proto), diag: hostSockets(proto).map(text).sort(), after: fromProc(proto) };
        }
        expect(reading!.after).toEqual(reading!.before);
        expect(reading!.diag).toEqual(reading!.before);
      }
      expect(hostSockets("tcp").map(text)).toContain(`:: ${v6.port} true`);
      expect(hostSockets("tcp").map(text)).toContain(`127.0.0.1 ${client.localPort} false`);
    } finally {
      client.end();
      v4.stop(true);
      v6.stop(true);
      udp.close();
    }
  });

  test("on one port: only what listens there (tcp: LISTEN; udp: every socket)", async () => {
    const v4 = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const client = await Bun.connect({ hostname: "127.0.0.1", port: v4.port, socket: { data() {} } });
    const udp = await Bun.udpSocket({ port: 0 });
    try {
      expect(hostSockets("tcp", v4.port)).toEqual([{ ip: "127.0.0.1", port: v4.port, listening: true }]);
      expect(hostSockets("tcp", client.localPort)).toEqual([]);
      expect(hostSockets("udp", udp.port).map(text)).toEqual([`0.0.0.0 ${udp.port} true`]);
    } finally {
      client.end();
      v4.stop(true);
      udp.close();
    }
  });

  test("a kernel that cannot list them that way (no inet_diag): /proc/net is read instead", () => {
    const refusing = new NetlinkSocket({
      pending: [] as Uint8Array[],
      send(msg: Uint8Array) {
        const seq = new DataView(msg.buffer, msg.byteOffset).getUint32(8, true);
        this.pending.push(new MessageWriter().u32(36).u16(2).u16(0x100).u32(seq).u32(0).i32(-2).u32(16).u16(0).u16(0).u32(seq).u32(0).finish());
        return msg.length;
      },
      receive(into: Uint8Array) {
        const next = this.pending.shift()!;
        into.set(next);
        return next.length;
      },
      close() {},
    } as ConstructorParameters<typeof NetlinkSocket>[0] & { pending: Uint8Array[] });
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      expect(hostSockets("tcp", undefined, refusing).map(text).sort()).toEqual(fromProc("tcp"));
      expect(hostSockets("tcp", server.port, refusing)).toEqual([{ ip: "127.0.0.1", port: server.port, listening: true }]);
    } finally {
      server.stop(true);
    }
  });
});

function host(sockets: Partial<Record<Protocol, HostSocket[]>>, range: [number, number] = [40000, 40009]): HostPorts {
  return { sockets: (proto) => sockets[proto] ?? [], range };
}

const port = (hostPort: number, containerPort = 80, proto: Protocol = "tcp", hostIp = ""): PortSpec => ({ hostIp, hostPort, containerPort, proto });

describe("explicit host ports", () => {
  const tcp = parseProcNet(TCP, "tcp").concat(parseProcNet(TCP6, "tcp"));
  const h = host({ tcp, udp: parseProcNet(UDP, "udp") });

  test("a free one is kept as it is", () => {
    const ports = [port(9000), port(9001, 81, "tcp", "127.0.0.1"), port(8080, 80, "udp")];
    expect(choosePortsOn(h, ports, [])).toEqual(ports);
  });

  test("every address: any listener on the port conflicts, IPv4 or IPv6, any address", () => {
    for (const p of [8080, 8081, 8082, 8083, 8084, 8085, 8086]) {
      expect(thrown(() => choosePortsOn(h, [port(9000), port(p)], [])).message).toBe(`port ${p}/tcp is in use on the host`);
    }
  });

  test("a non-listening socket (a connection's local port) does not conflict", () => {
    expect(choosePortsOn(h, [port(40000), port(40001)], [])).toHaveLength(2);
  });

  test("one address: a listener on it or on a wildcard conflicts, others do not", () => {
    const on = (hostIp: string, p: number) => () => choosePortsOn(h, [port(p, 80, "tcp", hostIp)], []);
    expect(thrown(on("127.0.0.1", 8081)).message).toBe("port 127.0.0.1:8081/tcp is in use on the host");
    expect(thrown(on("127.0.0.1", 8080)).message).toBe("port 127.0.0.1:8080/tcp is in use on the host");
    expect(thrown(on("192.168.1.5", 8083)).message).toBe("port 192.168.1.5:8083/tcp is in use on the host");
    expect(thrown(on("10.0.0.10", 8085)).message).toBe("port 10.0.0.10:8085/tcp is in use on the host");
    expect(on("192.168.1.5", 8081)()).toHaveLength(1);
    expect(on("127.0.0.1", 8082)()).toHaveLength(1);
    expect(on("127.0.0.1", 8084)()).toHaveLength(1); // ::1 only
    expect(on("127.0.0.1", 8086)()).toHaveLength(1); // another IPv6 address
    expect(on("127.0.0.1", 8085)()).toHaveLength(1); // mapped 10.0.0.10
  });

  test("the protocols are apart", () => {
    expect(choosePortsOn(h, [port(53, 53, "tcp"), port(8080, 80, "udp")], [])).toHaveLength(2);
    expect(thrown(() => choosePortsOn(h, [port(5353, 53, "udp")], [])).message).toBe("port 5353/udp is in use on the host");
    expect(thrown(() => choosePortsOn(h, [port(53, 53, "udp", "127.0.0.53")], [])).message).toBe("port 127.0.0.53:53/udp is in use on the host");
  });

  test("a port cbox published already is refused when the addresses overlap", () => {
    const taken = [
      { hostIp: "", hostPort: 9000, proto: "tcp" as const },
      { hostIp: "127.0.0.1", hostPort: 9001, proto: "tcp" as const },
    ];
    expect(thrown(() => choosePortsOn(h, [port(9000)], taken)).message).toBe("port 9000/tcp is already published by another container");
    expect(thrown(() => choosePortsOn(h, [port(9000, 80, "tcp", "127.0.0.1")], taken)).message).toBe(
      "port 127.0.0.1:9000/tcp is already published by another container",
    );
    expect(thrown(() => choosePortsOn(h, [port(9001)], taken)).message).toBe("port 9001/tcp is already published by another container");
    expect(choosePortsOn(h, [port(9001, 80, "tcp", "10.0.0.1"), port(9000, 80, "udp")], taken)).toHaveLength(2);
  });
});

describe("free host ports", () => {
  test("chosen in the range, distinct, avoiding ports in use in any state, taken ones and explicit ones", () => {
    const sockets = [40001, 40003].map((p) => ({ ip: "127.0.0.1", port: p, listening: false }));
    const taken = [{ hostIp: "10.0.0.1", hostPort: 40004, proto: "tcp" as const }];
    const chosen = choosePortsOn(host({ tcp: sockets }), [port(0, 80), port(40005, 81), port(0, 82), port(0, 83)], taken, () => 0);
    expect(chosen.map((p) => p.hostPort)).toEqual([40000, 40005, 40002, 40006]);
    expect(chosen.map((p) => p.containerPort)).toEqual([80, 81, 82, 83]);
  });

  test("the search starts at random and wraps around", () => {
    expect(choosePortsOn(host({}), [port(0)], [], () => 0.5)[0]!.hostPort).toBe(40005);
    expect(choosePortsOn(host({}), [port(0)], [], () => 0.9999999)[0]!.hostPort).toBe(40009);
    const busy = [40008, 40009].map((p) => ({ ip: "0.0.0.0", port: p, listening: true }));
    expect(choosePortsOn(host({ tcp: busy }), [port(0)], [], () => 0.85)[0]!.hostPort).toBe(40000);
  });

  test("random starts spread the choices", () => {
    const seen = new Set(Array.from({ length: 50 }, () => choosePortsOn(host({}, [32768, 60999]), [port(0)], [])[0]!.hostPort));
    expect(seen.size).toBeGreaterThan(40);
    for (const p of seen) expect(p >= 32768 && p <= 60999).toBe(true);
  });

  test("tcp and udp are chosen apart: a udp socket does not take a tcp port", () => {
    const udp = [{ ip: "0.0.0.0", port: 40000, listening: true }];
    expect(choosePortsOn(host({ udp }), [port(0, 80, "tcp"), port(0, 53, "udp")], [], () => 0).map((p) => p.hostPort)).toEqual([40000, 40001]);
  });

  test("a full range is an error naming it", () => {
    const tcp = Array.from({ length: 10 }, (_, i) => ({ ip: "0.0.0.0", port: 40000 + i, listening: false }));
    expect(thrown(() => choosePortsOn(host({ tcp }), [port(0, 8080)], [])).message).toBe("no free host port for 8080/tcp in 40000-40009");
    expect(thrown(() => choosePortsOn(host({}, [40000, 40000]), [port(0, 80), port(0, 81)], [])).message).toBe("no free host port for 81/tcp in 40000-40000");
  });

  test("an explicit port is asked for on its own (the kernel lists only its listeners); a free one needs every socket, once per protocol", () => {
    const asked: string[] = [];
    const h: HostPorts = {
      sockets: (proto, p) => {
        asked.push(`${proto}${p === undefined ? "" : ` ${p}`}`);
        return [];
      },
      range: [40000, 40009],
    };
    choosePortsOn(h, [port(8080), port(0, 81), port(5353, 53, "udp"), port(0, 82)], [], () => 0);
    expect(asked).toEqual(["tcp 8080", "udp 5353", "tcp"]);
  });

  test("nothing to publish reads nothing", () => {
    const h: HostPorts = {
      sockets: () => {
        throw new Error("read");
      },
      range: [1, 2],
    };
    expect(choosePortsOn(h, [], [])).toEqual([]);
  });
});
