// nf_tables over netlink without a socket: the numbers against the kernel's headers, the requests
// byte for byte (the element messages as nft 1.0.6 sends them, seen with strace), and replies the
// kernel sent (recorded on kernel 6.18 from a namespace with cbox's base and iptables-nft's
// CBOX-FORWARD) parsed back.
import { describe, expect, test } from "bun:test";
import {
  batchMessages,
  commentUserdata,
  describeExpression,
  dumpElementsMessage,
  dumpRulesMessage,
  elementMessage,
  getChainMessage,
  NFT,
  parseChainPolicy,
  parseElements,
  parseRule,
  userdataComment,
} from "../../src/linux/firewall/nft-netlink.ts";
import { encodeMessage, NETLINK_NETFILTER, NETLINK_ROUTE, NetlinkSocket, type NetlinkTransport } from "../../src/linux/netlink.ts";
import { hostCpuArch } from "../../src/sys/abi.ts";
import { evaluate } from "./c-constants.ts";
import { recorded } from "./nft-recorded.ts";

const fromHex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const text = (s: string) => toHex(new TextEncoder().encode(s));

describe("nf_tables numbers", () => {
  test("every number cbox uses is the headers' (linux/netfilter*.h, linux/netlink.h)", () => {
    const prelude = ["linux/netlink.h", "linux/netfilter.h", "linux/netfilter/nfnetlink.h", "linux/netfilter/nf_tables.h", "linux/netfilter/nf_tables_compat.h"].map((h) => `#include <${h}>`).join("\n");
    const ours: Record<string, number> = { ...NFT, NETLINK_NETFILTER, NETLINK_ROUTE };
    const headers = evaluate(hostCpuArch(), prelude, Object.fromEntries(Object.keys(ours).map((k) => [k, k])));
    expect(Object.entries(ours).filter(([k, v]) => headers.get(k) !== BigInt(v))).toEqual([]);
  });
});

describe("requests", () => {
  const element = { key: fromHex("11000000 14e90000"), data: fromHex("0a580003 00350000"), comment: "cbox:bbbbbbbbbbbb" };
  // nft 1.0.6, `create element ip cbox ports { udp . 5353 comment "cbox:bbbbbbbbbbbb" : 10.88.0.3 . 53 }`
  // (strace -e sendmsg -xx), without the NFTA_SET_ELEM_LIST_SET_ID it adds; cbox adds NLM_F_ACK.
  const nftCreate =
    "6c000000 0c0a 0506 07000000 00000000" +
    "02000000" +
    `09000100 ${text("cbox")}00 000000` +
    `0a000200 ${text("ports")}00 0000` +
    "40000380 3c000180 10000180 0c000100 11000000 14e90000 10000280 0c000100 0a580003 00350000" +
    `18000600 0012${text("cbox:bbbbbbbbbbbb")}00`;

  test("create element: the batch member nft sends, with an ACK asked for", () => {
    const req = elementMessage("create", "cbox", "ports", element, "publish 0.0.0.0:5353/udp");
    expect(toHex(encodeMessage(req, 7))).toBe(nftCreate.replace(/\s+/g, ""));
    expect(req.what).toBe("publish 0.0.0.0:5353/udp");
  });

  test("delete element: the key only, as nft sends `delete element ip cbox ports { udp . 5353 }`", () => {
    const req = elementMessage("delete", "cbox", "ports", element, "unpublish");
    expect(toHex(encodeMessage(req, 1))).toBe(
      ("44000000 0e0a 0500 01000000 00000000 02000000" + `09000100 ${text("cbox")}00 000000 0a000200 ${text("ports")}00 0000` + "18000380 14000180 10000180 0c000100 11000000 14e90000").replace(/\s+/g, ""),
    );
  });

  test("the reads: one chain, a table's (or a chain's) rules, a map's elements", () => {
    const filter = `0b000100 ${text("filter")}00 00`;
    expect(toHex(encodeMessage(getChainMessage("filter", "FORWARD"), 2))).toBe(`2c000000 040a 0500 02000000 00000000 02000000 ${filter} 0c000300 ${text("FORWARD")}00`.replace(/\s+/g, ""));
    expect(toHex(encodeMessage(dumpRulesMessage("cbox"), 3))).toBe(`20000000 070a 0103 03000000 00000000 02000000 09000100 ${text("cbox")}00 000000`.replace(/\s+/g, ""));
    expect(toHex(encodeMessage(dumpRulesMessage("filter", "CBOX-FORWARD"), 4))).toBe(
      `34000000 070a 0103 04000000 00000000 02000000 ${filter} 11000200 ${text("CBOX-FORWARD")}00 000000`.replace(/\s+/g, ""),
    );
    expect(toHex(encodeMessage(dumpElementsMessage("cbox", "addrports"), 5))).toBe(
      `30000000 0d0a 0103 05000000 00000000 02000000 09000100 ${text("cbox")}00 000000 0e000200 ${text("addrports")}00 0000`.replace(/\s+/g, ""),
    );
  });

  test("a batch: begin and end name the nf_tables subsystem (res_id 10, big-endian) and ask for no ACK", () => {
    const [begin, req, end] = batchMessages([dumpRulesMessage("cbox")]);
    expect(toHex(encodeMessage(begin!, 1))).toBe("14000000100001000100000000000000" + "0000000a");
    expect(toHex(encodeMessage(end!, 3))).toBe("14000000110001000300000000000000" + "0000000a");
    expect(req!.what).toBe("list the rules of ip cbox");
  });

  test("comments: libnftnl's userdata (tag 0, length with the NUL); longer than nft allows is refused", () => {
    expect(toHex(commentUserdata("cbox:aaaaaaaaaaaa"))).toBe(`0012${text("cbox:aaaaaaaaaaaa")}00`);
    expect(userdataComment(commentUserdata("hello"))).toBe("hello");
    expect(userdataComment(fromHex(`0103aabbcc 0006${text("found")}00`))).toBe("found");
    expect(userdataComment(undefined)).toBeUndefined();
    expect(() => commentUserdata("x".repeat(128))).toThrow("127 bytes at most");
  });
});

describe("replies", () => {
  test("a rule of cbox's table: chain, comment, expressions", () => {
    expect(parseRule(fromHex(recorded.preroutingRule))).toEqual({ table: "cbox", chain: "prerouting", comment: "cbox-base-af758c46bda5a2f8", exprs: ["fib", "cmp eq \u0002", "immediate jump published"] });
    expect(parseRule(fromHex(recorded.preroutingRule), false)).toEqual({ table: "cbox", chain: "prerouting", comment: "cbox-base-af758c46bda5a2f8", exprs: [] });
  });

  test("iptables-nft's rules: the jump, and CBOX-FORWARD's two (a name compared up to its NUL, a match by name)", () => {
    expect(parseRule(fromHex(recorded.forwardJump))).toEqual({ table: "filter", chain: "FORWARD", exprs: ["counter", "immediate jump CBOX-FORWARD"] });
    expect(parseRule(fromHex(recorded.fromBridge))).toEqual({ table: "filter", chain: "CBOX-FORWARD", exprs: ["meta iifname", "cmp eq cbox0", "counter", "immediate accept"] });
    expect(parseRule(fromHex(recorded.toBridge))).toEqual({ table: "filter", chain: "CBOX-FORWARD", exprs: ["meta oifname", "cmp eq cbox0", "match conntrack", "counter", "immediate accept"] });
  });

  test("cmp data without a NUL is a prefix (iptables' cbox0+); other expressions by name", () => {
    const cmp = fromHex(`24000100 0800 0100 ${text("cmp")}00 18000200 08000200 00000000 0c000300 08000100 ${text("cbox")}`);
    expect(describeExpression(cmp.subarray(4))).toBe("cmp eq cbox*");
    expect(describeExpression(fromHex(`0c000100 ${text("masq")}00 000000`))).toBe("masq");
  });

  test("a chain's policy: drop, accept, none for a chain without a hook", () => {
    // NFTA_CHAIN_POLICY: 08000500, then NF_DROP (0) as a big-endian u32.
    const policy = "0800050000000000";
    expect(recorded.forwardChain).toContain(policy);
    expect(parseChainPolicy(fromHex(recorded.forwardChain))).toBe("drop");
    expect(parseChainPolicy(fromHex(recorded.forwardChain.replace(policy, "0800050000000001")))).toBe("accept");
    const none = recorded.forwardChain.replace(policy, "");
    expect(parseChainPolicy(fromHex((none.length / 2).toString(16).padStart(2, "0") + none.slice(2)))).toBeUndefined();
  });

  test("map elements: key and value bytes and the owner's comment; the dump's empty last message has none", () => {
    expect(parseElements(fromHex(recorded.portsElements))).toEqual([{ key: fromHex("06000000 1f900000"), data: fromHex("0a580002 00500000"), comment: "cbox:aaaaaaaaaaaa" }]);
    expect(parseElements(fromHex(recorded.addrportsElements))).toEqual([{ key: fromHex("7f000001 11000000 1f910000"), data: fromHex("0a580002 00510000"), comment: "cbox:aaaaaaaaaaaa" }]);
    expect(parseElements(fromHex(recorded.emptyElements))).toEqual([]);
  });
});

describe("NetlinkSocket.batch", () => {
  /** Queues what answer gives for the sent datagram; -EAGAIN once the queue is empty (nothing waits). */
  class QueuedKernel implements NetlinkTransport {
    sent: Uint8Array[] = [];
    private queue: Uint8Array[] = [];
    waited = false;
    constructor(private readonly answer: (datagram: Uint8Array) => Uint8Array[]) {}
    send(msg: Uint8Array): number {
      this.sent.push(msg.slice());
      this.queue.push(...this.answer(msg));
      return msg.length;
    }
    receive(into: Uint8Array, dontWait?: boolean): number {
      if (!dontWait) this.waited = true;
      const next = this.queue.shift();
      if (!next) return -11;
      into.set(next);
      return next.length;
    }
    close(): void {}
  }

  /** An NLMSG_ERROR for seq: errno 0 is an ACK. */
  const errorReply = (seq: number, errno: number) => {
    const b = new Uint8Array(36);
    const v = new DataView(b.buffer);
    v.setUint32(0, 36, true);
    v.setUint16(4, 2, true);
    v.setUint32(8, seq, true);
    v.setInt32(16, -errno, true);
    return b;
  };

  test("one datagram; each request's ACK or error by seq; what was queued is all (no wait)", () => {
    const reqs = batchMessages([0, 1, 2].map((i) => elementMessage("create", "cbox", "ports", { key: new Uint8Array(8), data: new Uint8Array(8) }, `port ${i}`)));
    // The kernel answers the three elements (seq 2, 3, 4) in two datagrams; a stray reply of another seq is ignored.
    const kernel = new QueuedKernel(() => [new Uint8Array([...errorReply(2, 0), ...errorReply(3, 17)]), new Uint8Array([...errorReply(4, 0), ...errorReply(99, 22)])]);
    const replies = new NetlinkSocket(kernel).batch(reqs);
    expect(replies).toEqual([undefined, { errno: 0 }, { errno: 17 }, { errno: 0 }, undefined]);
    expect(kernel.sent.length).toBe(1);
    const seqs: number[] = [];
    for (let at = 0; at < kernel.sent[0]!.length; ) {
      const v = new DataView(kernel.sent[0]!.buffer, at);
      seqs.push(v.getUint32(8, true));
      at += (v.getUint32(0, true) + 3) & ~3;
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(kernel.waited).toBe(false);
  });
});
