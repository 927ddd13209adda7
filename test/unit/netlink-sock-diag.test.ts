// sock_diag (inet_diag) over netlink: the request byte for byte, a reply parsed back, and this
// host's kernel asked for real (listing sockets needs no privilege).
import { describe, expect, test } from "bun:test";
import { ALL_STATES, DIAG, inetDiagMessage, inetSockets, LISTENING, parseInetDiag } from "../../src/linux/net/sock-diag.ts";
import { encodeMessage, MessageWriter, NETLINK_SOCK_DIAG, NetlinkSocket } from "../../src/linux/netlink.ts";
import { underQemuUser } from "./helpers.ts";

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const fromHex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));

describe("requests, byte for byte", () => {
  test("the IPv4 tcp listeners on port 8080: struct inet_diag_req_v2 as a dump", () => {
    const req = inetDiagMessage(DIAG.AF_INET, DIAG.IPPROTO_TCP, LISTENING, 8080);
    expect(req.type).toBe(20); // SOCK_DIAG_BY_FAMILY
    expect(req.flags).toBe(0x301); // NLM_F_REQUEST | NLM_F_DUMP
    expect(req.what).toBe("list the tcp sockets on port 8080");
    // family, protocol, ext, pad; states (1 << TCP_LISTEN); sport 8080 and dport 0 (network order);
    // src and dst (any); if 0; cookie INET_DIAG_NOCOOKIE twice.
    const expected = "02 06 00 00  00040000  1f90 0000" + " 00000000".repeat(8) + " 00000000  ffffffff ffffffff";
    expect(toHex(req.body)).toBe(toHex(fromHex(expected)));
    expect(req.body.length).toBe(56);
  });

  test("every udp6 socket in any state, on any port", () => {
    const req = inetDiagMessage(DIAG.AF_INET6, DIAG.IPPROTO_UDP, ALL_STATES);
    expect(req.what).toBe("list the udp6 sockets");
    expect(toHex(req.body.subarray(0, 12))).toBe("0a110000ffffffff00000000");
  });
});

describe("replies", () => {
  /** struct inet_diag_msg with the given fields, after an nlmsghdr. */
  const reply = (family: number, state: number, port: number, src: number[]) => {
    const w = new MessageWriter().u8(family).u8(state).u8(0).u8(0).u8(port >> 8).u8(port & 0xff).u8(0).u8(0);
    const address = [...src, ...new Array(16 - src.length).fill(0)];
    for (const b of address) w.u8(b);
    for (let i = 0; i < 16; i++) w.u8(0); // dst
    w.u32(1).u32(0x1234).u32(0x5678); // if, cookie
    w.u32(0).u32(0).u32(0).u32(1000).u32(4242); // expires, rqueue, wqueue, uid, inode
    w.u16(5).u16(8).u8(0).u8(0).u16(0); // an attribute the parser skips (INET_DIAG_SHUTDOWN)
    return encodeMessage({ what: "", type: 20, flags: 2, body: w.finish() }, 1);
  };

  test("family, state, local port and address: 4 bytes for IPv4, 16 for IPv6", () => {
    expect(parseInetDiag(reply(2, 10, 8080, [127, 0, 0, 1]))).toEqual({ family: 2, state: 10, port: 8080, address: new Uint8Array([127, 0, 0, 1]) });
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 10];
    expect(parseInetDiag(reply(10, 7, 53, mapped))).toEqual({ family: 10, state: 7, port: 53, address: new Uint8Array(mapped) });
  });

  test("a message too short to be one is left out", () => {
    expect(parseInetDiag(new Uint8Array(16 + 71))).toBeUndefined();
  });
});

// qemu-user does not pass NETLINK_SOCK_DIAG on (EPROTONOSUPPORT): host-ports.ts reads /proc/net there.
describe.skipIf(underQemuUser)("this host's kernel", () => {
  test("a listener is found on its port, in its family only; a connection's sockets are not listeners", async () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const client = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } });
    const sock = NetlinkSocket.open(undefined, NETLINK_SOCK_DIAG);
    try {
      const listeners = inetSockets(sock, DIAG.AF_INET, DIAG.IPPROTO_TCP, LISTENING, server.port);
      expect(listeners).toEqual([{ family: 2, state: 10, port: server.port, address: new Uint8Array([127, 0, 0, 1]) }]);
      expect(inetSockets(sock, DIAG.AF_INET6, DIAG.IPPROTO_TCP, LISTENING, server.port)).toEqual([]);
      // In any state: the listener and the accepted end of the connection share the port.
      const all = inetSockets(sock, DIAG.AF_INET, DIAG.IPPROTO_TCP, ALL_STATES, server.port);
      expect(all.map((s) => s.state).sort()).toEqual([1, 10]); // TCP_ESTABLISHED, TCP_LISTEN
      expect(inetSockets(sock, DIAG.AF_INET, DIAG.IPPROTO_TCP, ALL_STATES).some((s) => s.port === client.localPort)).toBe(true);
    } finally {
      sock.close();
      client.end();
      server.stop(true);
    }
  });

  test("a udp socket is listed in any state", async () => {
    const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const sock = NetlinkSocket.open(undefined, NETLINK_SOCK_DIAG);
    try {
      expect(inetSockets(sock, DIAG.AF_INET, DIAG.IPPROTO_UDP, ALL_STATES, udp.port)).toEqual([{ family: 2, state: 7, port: udp.port, address: new Uint8Array([127, 0, 0, 1]) }]);
    } finally {
      sock.close();
      udp.close();
    }
  });
});
