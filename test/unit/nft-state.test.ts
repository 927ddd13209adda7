// The nft driver's netlink side without a kernel: what a start checks (cbox's table signed and
// whole, iptables-nft's FORWARD), the ports as map elements, and whole publish/unpublish calls
// against a played nf_tables that keeps a table, and a runner that fails on any call it does not
// expect (so "no process" is checked, not assumed).
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FirewallError, makeFirewall, type PublishedEntry, type PublishedPort, type Runner, type ToolResult } from "../../src/linux/firewall/index.ts";
import { baseFacts } from "../../src/linux/firewall/nft-base.ts";
import { commentUserdata, NFT } from "../../src/linux/firewall/nft-netlink.ts";
import { nftBaseCommands } from "../../src/linux/firewall/nft.ts";
import { heldAccess } from "../../src/linux/firewall/netfilter-access.ts";
import { baseIsCurrent, entryOfElement, forwardState, legacyFilterLoaded, portElement, readPorts, type NetfilterAccess } from "../../src/linux/firewall/nft-state.ts";
import { MessageWriter, NetlinkSocket, parseAttributes, splitMessages, attrString, attributeList, type NetlinkTransport } from "../../src/linux/netlink.ts";
import { thrown } from "./helpers.ts";
import { recorded } from "./nft-recorded.ts";

const fromHex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const net = { bridge: "cbox0", subnet: "10.88.0.0/16" };
const A = "a1".repeat(32);
const B = "b2".repeat(32);
const tcp = (hostPort: number, containerPort: number, hostIp = ""): PublishedPort => ({ hostIp, hostPort, containerPort, proto: "tcp" });
const udp = (hostPort: number, containerPort: number, hostIp = ""): PublishedPort => ({ hostIp, hostPort, containerPort, proto: "udp" });

const dir = mkdtempSync(join(tmpdir(), "cbox-nft-state-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A rule as the kernel holds it here: its chain and comment, or a recorded message of iptables-nft's. */
type FakeRule = { chain: string; comment?: string } | { recorded: string };

/**
 * nf_tables as far as the driver sees it: tables of rules, chain policies, and the two maps of
 * table cbox (key hex -> element), changed by batches all or nothing, as the kernel does.
 */
class FakeNftables implements NetlinkTransport {
  tables = new Map<string, FakeRule[]>();
  policies = new Map<string, "accept" | "drop">();
  maps = new Map<string, Map<string, { key: Uint8Array; data: Uint8Array; udata: Uint8Array }>>([
    ["ports", new Map()],
    ["addrports", new Map()],
  ]);
  /** What was asked: "dump rules cbox", "batch 2", ... */
  asked: string[] = [];
  private queue: Uint8Array[] = [];

  /** The base as `nft -f` would leave it. */
  writeBase(facts = baseFacts(net)): void {
    const rules: FakeRule[] = [];
    for (const [chain, n] of facts.counts) for (let i = 0; i < n; i++) rules.push({ chain, comment: facts.signature });
    this.tables.set("cbox", rules);
  }

  send(datagram: Uint8Array): number {
    const msgs = splitMessages(datagram);
    if (msgs[0]!.type === NFT.NFNL_MSG_BATCH_BEGIN) this.batch(msgs);
    else for (const m of msgs) this.answer(m);
    return datagram.length;
  }

  receive(into: Uint8Array, dontWait?: boolean): number {
    const next = this.queue.shift();
    if (!next) {
      if (dontWait) return -11;
      throw new Error("the fake kernel has nothing more to say");
    }
    into.set(next);
    return next.length;
  }

  close(): void {}

  private answer(m: { type: number; seq: number; bytes: Uint8Array }): void {
    const attrs = parseAttributes(m.bytes, 20);
    const str = (t: number) => (attrs.has(t) ? attrString(attrs.get(t)!) : undefined);
    const sub = m.type & 0xff;
    if (sub === NFT.NFT_MSG_GETRULE) {
      const [table, chain] = [str(NFT.NFTA_RULE_TABLE)!, str(NFT.NFTA_RULE_CHAIN)];
      this.asked.push(`dump rules ${table}${chain ? ` ${chain}` : ""}`);
      const rules = this.tables.get(table);
      if (!rules) return this.reply(errorMessage(m.seq, 2));
      const wanted = rules.filter((r) => !chain || ruleChain(r) === chain);
      if (chain && wanted.length === 0 && !rules.some((r) => "recorded" in r && ruleChain(r) === chain)) return this.reply(errorMessage(m.seq, 2));
      for (const r of wanted) this.reply(ruleMessage(r, m.seq, table));
      this.reply(doneMessage(m.seq));
    } else if (sub === NFT.NFT_MSG_GETCHAIN) {
      const key = `${str(NFT.NFTA_CHAIN_TABLE)} ${str(NFT.NFTA_CHAIN_NAME)}`;
      this.asked.push(`get chain ${key}`);
      const policy = this.policies.get(key);
      if (!policy) return this.reply(errorMessage(m.seq, 2));
      const w = header(NFT.NFT_MSG_GETCHAIN - 1, m.seq).u32(0).stringAttr(NFT.NFTA_CHAIN_NAME, key.split(" ")[1]!).attr(NFT.NFTA_CHAIN_POLICY, new Uint8Array([0, 0, 0, policy === "drop" ? 0 : 1]));
      this.reply(finish(w), errorMessage(m.seq, 0));
    } else if (sub === NFT.NFT_MSG_GETSETELEM) {
      const map = str(NFT.NFTA_SET_ELEM_LIST_SET)!;
      this.asked.push(`dump elements ${map}`);
      if (!this.tables.has("cbox")) return this.reply(errorMessage(m.seq, 2));
      const w = header(NFT.NFT_MSG_NEWSETELEM, m.seq).u32(0x02000000 >>> 0).stringAttr(NFT.NFTA_SET_ELEM_LIST_SET, map);
      w.nested(NFT.NFTA_SET_ELEM_LIST_ELEMENTS, () => {
        for (const el of this.maps.get(map)!.values()) {
          w.nested(NFT.NFTA_LIST_ELEM, () => {
            w.nested(NFT.NFTA_SET_ELEM_KEY, () => w.attr(NFT.NFTA_DATA_VALUE, el.key));
            w.nested(NFT.NFTA_SET_ELEM_DATA, () => w.attr(NFT.NFTA_DATA_VALUE, el.data));
            w.attr(NFT.NFTA_SET_ELEM_USERDATA, el.udata);
          });
        }
      });
      this.reply(finish(w), doneMessage(m.seq));
    } else {
      throw new Error(`the fake kernel does not know message type ${m.type}`);
    }
  }

  /** All or nothing; each member with NLM_F_ACK gets its answer, a failed one its errno. */
  private batch(msgs: { type: number; flags: number; seq: number; bytes: Uint8Array }[]): void {
    const members = msgs.slice(1, -1);
    this.asked.push(`batch ${members.length}`);
    const maps = new Map([...this.maps].map(([k, v]) => [k, new Map(v)]));
    const errnos = members.map((m) => {
      const attrs = parseAttributes(m.bytes, 20);
      const map = maps.get(attrString(attrs.get(NFT.NFTA_SET_ELEM_LIST_SET)!));
      if (!this.tables.has("cbox") || !map) return 2;
      const elem = parseAttributes(attributeList(attrs.get(NFT.NFTA_SET_ELEM_LIST_ELEMENTS)!)[0]!.payload, 0);
      const value = (t: number) => parseAttributes(elem.get(t)!, 0).get(NFT.NFTA_DATA_VALUE)!.slice();
      const key = toHex(value(NFT.NFTA_SET_ELEM_KEY));
      if ((m.type & 0xff) === NFT.NFT_MSG_DELSETELEM) return map.delete(key) ? 0 : 2;
      if (map.has(key)) return 17;
      map.set(key, { key: fromHex(key), data: value(NFT.NFTA_SET_ELEM_DATA), udata: elem.get(NFT.NFTA_SET_ELEM_USERDATA)!.slice() });
      return 0;
    });
    if (errnos.every((e) => e === 0)) this.maps = maps;
    members.forEach((m, i) => this.reply(errorMessage(m.seq, errnos[i]!)));
  }

  private reply(...msgs: Uint8Array[]): void {
    this.queue.push(...msgs);
  }
}

function ruleChain(r: FakeRule): string {
  return "recorded" in r ? attrString(parseAttributes(fromHex(r.recorded), 20).get(NFT.NFTA_RULE_CHAIN)!) : r.chain;
}

function header(msg: number, seq: number): MessageWriter {
  return new MessageWriter().u32(0).u16((NFT.NFNL_SUBSYS_NFTABLES << 8) | msg).u16(2).u32(seq).u32(0);
}

/** The message with its length written in. */
function finish(w: MessageWriter): Uint8Array {
  const b = w.finish();
  new DataView(b.buffer).setUint32(0, b.length, true);
  return b;
}

function ruleMessage(r: FakeRule, seq: number, table: string): Uint8Array {
  if ("recorded" in r) {
    const b = fromHex(r.recorded);
    new DataView(b.buffer).setUint32(8, seq, true);
    return b;
  }
  const w = header(6, seq).u32(0x02000000 >>> 0).stringAttr(NFT.NFTA_RULE_TABLE, table).stringAttr(NFT.NFTA_RULE_CHAIN, r.chain);
  if (r.comment !== undefined) w.attr(NFT.NFTA_RULE_USERDATA, commentUserdata(r.comment));
  return finish(w);
}

function errorMessage(seq: number, errno: number): Uint8Array {
  const w = new MessageWriter().u32(36).u16(2).u16(0x100).u32(seq).u32(0).i32(-errno).u32(16).u16(0).u16(0).u32(seq).u32(0);
  return w.finish();
}

function doneMessage(seq: number): Uint8Array {
  return new MessageWriter().u32(20).u16(3).u16(2).u32(seq).u32(0).u32(0).finish();
}

function access(kernel: FakeNftables, procNet = join(dir, "no-proc-net")): NetfilterAccess {
  return { open: () => new NetlinkSocket(kernel), procNet };
}

/** A runner that answers from a list, in order, records the calls, and fails on one it was not told of. */
function fakeRunner(answers: Partial<ToolResult>[]): Runner & { calls: { argv: string[]; stdin?: string }[] } {
  const calls: { argv: string[]; stdin?: string }[] = [];
  const run = ((argv: string[], stdin?: string) => {
    calls.push({ argv, stdin });
    const a = answers.shift();
    if (!a) throw new Error(`unexpected process: ${argv.join(" ")}`);
    return { code: 0, stdout: "", stderr: "", ...a };
  }) as Runner & { calls: typeof calls };
  run.calls = calls;
  return run;
}

/** iptables-nft as Debian links it (the backend comes from the multi-call binary's name). */
function iptablesBinary(backend: "nft" | "legacy"): string {
  const path = join(dir, `iptables-${backend}`);
  if (!existsSync(path)) {
    writeFileSync(join(dir, `xtables-${backend}-multi`), "");
    symlinkSync(`xtables-${backend}-multi`, path);
  }
  return path;
}

describe("ports as map elements", () => {
  test("key (addr .) proto . port and value addr . port, each field in a 4-byte register; the owner's comment", () => {
    const el = portElement(A, "10.88.0.2", tcp(8080, 80));
    expect([toHex(el.key), toHex(el.data!), el.comment]).toEqual(["060000001f900000", "0a58000200500000", "cbox:a1a1a1a1a1a1"]);
    const one = portElement(B, "10.88.0.3", udp(8081, 53, "127.0.0.1"));
    expect([toHex(one.key), toHex(one.data!)]).toEqual(["7f000001110000001f910000", "0a58000300350000"]);
  });

  test("elements become entries (the recorded ones nft wrote, too); what cbox could not have written is left out", () => {
    const entry = (map: "ports" | "addrports", key: string, data: string, comment?: string) => entryOfElement(map, { key: fromHex(key), data: fromHex(data), comment });
    expect(entry("ports", "060000001f900000", "0a58000200500000", "cbox:aaaaaaaaaaaa")).toEqual({ hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp", owner: "aaaaaaaaaaaa", containerIp: "10.88.0.2" });
    expect(entry("addrports", "7f000001110000001f910000", "0a58000200510000")).toEqual({ hostIp: "127.0.0.1", hostPort: 8081, containerPort: 81, proto: "udp", owner: "", containerIp: "10.88.0.2" });
    expect(entry("ports", "84000000 00090000", "0a58000200510000")).toBeUndefined(); // sctp
    expect(entry("ports", "7f000001110000001f910000", "0a58000200510000")).toBeUndefined(); // an addrports key
    for (const p of [tcp(1, 65535), udp(65535, 1, "192.0.2.9")]) {
      const el = portElement(B, "10.88.255.254", p);
      expect(entryOfElement(p.hostIp ? "addrports" : "ports", el)).toEqual({ ...p, owner: "b2b2b2b2b2b2", containerIp: "10.88.255.254" });
    }
  });
});

describe("what a start checks", () => {
  const check = (kernel: FakeNftables) => baseIsCurrent(new NetlinkSocket(kernel), net);

  test("cbox's table: there, every rule signed, as many per chain as the base has", () => {
    const kernel = new FakeNftables();
    expect(check(kernel)).toBe(false); // no table: ENOENT
    kernel.writeBase();
    expect(check(kernel)).toBe(true);
    expect(kernel.asked.at(-1)).toBe("dump rules cbox");
    kernel.writeBase(baseFacts({ bridge: "cbox0", subnet: "10.89.0.0/16" })); // written for another subnet
    expect(check(kernel)).toBe(false);
    kernel.writeBase();
    kernel.tables.set("cbox", kernel.tables.get("cbox")!.filter((r) => !("chain" in r && r.chain === "guard"))); // `nft flush chain ip cbox guard`
    expect(check(kernel)).toBe(false);
    kernel.writeBase();
    kernel.tables.get("cbox")!.push({ chain: "postrouting" }); // a rule of someone else's in cbox's chain
    expect(check(kernel)).toBe(false);
    kernel.writeBase();
    kernel.tables.get("cbox")!.pop(); // one of guard's two rules gone
    kernel.tables.get("cbox")!.push({ chain: "prerouting", comment: baseFacts(net).signature }); // and one more elsewhere
    expect(check(kernel)).toBe(false);
  });

  const forward = (kernel: FakeNftables, bridge = "cbox0") => forwardState(new NetlinkSocket(kernel), [bridge]);

  test("iptables-nft's FORWARD: missing or accepting is fine; dropping needs the jump and CBOX-FORWARD's two rules for this bridge", () => {
    const kernel = new FakeNftables();
    expect(forward(kernel)).toBe("accepts");
    kernel.policies.set("filter FORWARD", "accept");
    expect(forward(kernel)).toBe("accepts");
    kernel.policies.set("filter FORWARD", "drop");
    kernel.tables.set("filter", []);
    expect(forward(kernel)).toBe("missing");
    kernel.tables.set("filter", [{ recorded: recorded.forwardJump }, { recorded: recorded.fromBridge }, { recorded: recorded.toBridge }]);
    expect(forward(kernel)).toBe("handled");
    expect(kernel.asked.slice(-3)).toEqual(["get chain filter FORWARD", "dump rules filter FORWARD", "dump rules filter CBOX-FORWARD"]);
    expect(forward(kernel, "cbox1")).toBe("missing");
    kernel.tables.set("filter", [{ recorded: recorded.forwardJump }, { recorded: recorded.forwardJump }, { recorded: recorded.fromBridge }, { recorded: recorded.toBridge }]);
    expect(forward(kernel)).toBe("missing"); // a doubled jump is put right by iptables.ts
    kernel.tables.set("filter", [{ recorded: recorded.forwardJump }, { recorded: recorded.fromBridge }]);
    expect(forward(kernel)).toBe("missing");
    kernel.tables.set("filter", [{ recorded: recorded.fromBridge }, { recorded: recorded.toBridge }]);
    expect(forward(kernel)).toBe("missing");
  });

  test("legacy iptables can drop only once its filter table is loaded (/proc/net/ip_tables_names)", () => {
    const procNet = join(dir, "proc-net");
    mkdirSync(procNet, { recursive: true });
    expect(legacyFilterLoaded(procNet)).toBe(false);
    writeFileSync(join(procNet, "ip_tables_names"), "nat\n");
    expect(legacyFilterLoaded(procNet)).toBe(false);
    writeFileSync(join(procNet, "ip_tables_names"), "nat\nfilter\n");
    expect(legacyFilterLoaded(procNet)).toBe(true);
  });
});

describe("the nft driver through netlink", () => {
  const owned = (kernel: FakeNftables): string[] => readPorts(new NetlinkSocket(kernel)).map((e: PublishedEntry) => `${e.hostIp || "*"}:${e.hostPort}/${e.proto} ${e.owner} ${e.containerIp}:${e.containerPort}`);

  test("a start without ports, the table in place: no process at all", () => {
    const kernel = new FakeNftables();
    kernel.writeBase();
    const run = fakeRunner([]);
    makeFirewall("nft", "/usr/sbin/nft", undefined, { run, netfilter: access(kernel) }).publish(net, A, "10.88.0.2", []);
    expect(run.calls).toEqual([]);
    expect(kernel.asked).toEqual(["dump rules cbox"]);
  });

  test("no table, or one not this base's: one `nft -f -` with the base, and nothing else", () => {
    for (const prepare of [(_: FakeNftables) => {}, (k: FakeNftables) => k.writeBase(baseFacts({ bridge: "cbox0", subnet: "10.89.0.0/16" }))]) {
      const kernel = new FakeNftables();
      prepare(kernel);
      const run = fakeRunner([{}]);
      makeFirewall("nft", "/usr/sbin/nft", undefined, { run, netfilter: access(kernel) }).publish(net, A, "10.88.0.2", []);
      expect(run.calls).toEqual([{ argv: ["/usr/sbin/nft", "-f", "-"], stdin: `${nftBaseCommands(net).join("\n")}\n` }]);
    }
  });

  test("nft refusing the base is one line with nft's words", () => {
    const run = fakeRunner([{ code: 1, stderr: "/dev/stdin:2:1-3: Error: Could not process rule: Operation not supported\n" }]);
    const err = thrown(() => makeFirewall("nft", "/usr/sbin/nft", undefined, { run, netfilter: access(new FakeNftables()) }).publish(net, A, "10.88.0.2", []));
    expect(err).toBeInstanceOf(FirewallError);
    expect(err.message).toBe(`nft: Could not process rule: Operation not supported (${`${nftBaseCommands(net).join("\n")}\n`.split("\n")[1]})`);
  });

  test("ports are one netlink batch; a port another container holds is a conflict naming it, and nothing of the request is added", () => {
    const kernel = new FakeNftables();
    kernel.writeBase();
    const fw = makeFirewall("nft", "/usr/sbin/nft", undefined, { run: fakeRunner([]), netfilter: access(kernel) });
    fw.publish(net, A, "10.88.0.2", [tcp(8080, 80), tcp(8081, 80, "127.0.0.1"), udp(5353, 53)]);
    expect(kernel.asked).toEqual(["dump rules cbox", "batch 3"]);
    expect(owned(kernel)).toEqual(["127.0.0.1:8081/tcp a1a1a1a1a1a1 10.88.0.2:80", "*:8080/tcp a1a1a1a1a1a1 10.88.0.2:80", "*:5353/udp a1a1a1a1a1a1 10.88.0.2:53"]);
    const before = owned(kernel);
    expect(thrown(() => fw.publish(net, B, "10.88.0.3", [tcp(9091, 80), tcp(8080, 80)])).message).toBe("port 0.0.0.0:8080/tcp is already published by container a1a1a1a1a1a1");
    expect(owned(kernel)).toEqual(before);
    // Another protocol or another address is another key.
    fw.publish(net, B, "10.88.0.3", [udp(8080, 80), tcp(8081, 80, "127.0.0.2")]);
    expect(fw.entriesOf(B)).toEqual(["0.0.0.0:8080/udp -> 10.88.0.3:80", "127.0.0.2:8081/tcp -> 10.88.0.3:80"]);
  });

  test("the same port of the same container (a second start of one record) is kept, the rest added", () => {
    const kernel = new FakeNftables();
    kernel.writeBase();
    const fw = makeFirewall("nft", "/usr/sbin/nft", undefined, { run: fakeRunner([]), netfilter: access(kernel) });
    fw.publish(net, A, "10.88.0.2", [tcp(8080, 80)]);
    kernel.asked = [];
    fw.publish(net, A, "10.88.0.2", [tcp(8080, 80), udp(5353, 53)]);
    expect(kernel.asked).toEqual(["dump rules cbox", "batch 2", "dump elements addrports", "dump elements ports", "batch 1"]);
    expect(fw.entriesOf(A)).toEqual(["0.0.0.0:5353/udp -> 10.88.0.2:53", "0.0.0.0:8080/tcp -> 10.88.0.2:80"]);
  });

  test("unpublish deletes only the owner's matching elements in one batch; with none left, no batch", () => {
    const kernel = new FakeNftables();
    kernel.writeBase();
    const fw = makeFirewall("nft", "/usr/sbin/nft", undefined, { run: fakeRunner([]), netfilter: access(kernel) });
    fw.publish(net, A, "10.88.0.2", [tcp(8080, 80), udp(5353, 53)]);
    fw.publish(net, B, "10.88.0.3", [tcp(9090, 80)]);
    kernel.asked = [];
    fw.unpublish(net, A, "10.88.0.2", [tcp(8080, 80), tcp(9090, 80)]);
    expect(kernel.asked).toEqual(["dump elements addrports", "dump elements ports", "batch 1"]);
    expect(fw.published().map((e) => `${e.hostPort} ${e.owner}`)).toEqual(["5353 a1a1a1a1a1a1", "9090 b2b2b2b2b2b2"]);
    kernel.asked = [];
    fw.unpublish(net, A, "10.88.0.2", [tcp(8080, 80)]);
    expect(kernel.asked).toEqual(["dump elements addrports", "dump elements ports"]);
    expect(makeFirewall("nft", "/usr/sbin/nft", undefined, { run: fakeRunner([]), netfilter: access(new FakeNftables()) }).published()).toEqual([]);
  });

  test("iptables-nft's FORWARD drops and CBOX-FORWARD is missing: iptables-nft-save and -restore add it; in place, nothing runs", () => {
    const kernel = new FakeNftables();
    kernel.writeBase();
    kernel.policies.set("filter FORWARD", "drop");
    kernel.tables.set("filter", []);
    const iptables = iptablesBinary("nft");
    const run = fakeRunner([{ stdout: "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n" }, {}]);
    makeFirewall("nft", "/usr/sbin/nft", iptables, { run, netfilter: access(kernel) }).publish(net, A, "10.88.0.2", []);
    expect(run.calls.map((c) => c.argv.join(" "))).toEqual([`${iptables}-save -t filter`, `${iptables}-restore -w --noflush`]);
    expect(run.calls[1]!.stdin).toContain("-I FORWARD 1 -j CBOX-FORWARD\n");
    kernel.tables.set("filter", [{ recorded: recorded.forwardJump }, { recorded: recorded.fromBridge }, { recorded: recorded.toBridge }]);
    const none = fakeRunner([]);
    makeFirewall("nft", "/usr/sbin/nft", iptables, { run: none, netfilter: access(kernel) }).publish(net, A, "10.88.0.2", []);
    expect(none.calls).toEqual([]);
  });

  test("iptables-legacy: nothing runs while its filter table is not loaded; loaded, its FORWARD is read with iptables-legacy-save", () => {
    const kernel = new FakeNftables();
    kernel.writeBase();
    const iptables = iptablesBinary("legacy");
    const procNet = join(dir, "legacy-proc-net");
    mkdirSync(procNet, { recursive: true });
    writeFileSync(join(procNet, "ip_tables_names"), "nat\n");
    const none = fakeRunner([]);
    makeFirewall("nft", "/usr/sbin/nft", iptables, { run: none, netfilter: access(kernel, procNet) }).publish(net, A, "10.88.0.2", []);
    expect(none.calls).toEqual([]);
    writeFileSync(join(procNet, "ip_tables_names"), "filter\nnat\n");
    const run = fakeRunner([{ stdout: "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n" }]);
    makeFirewall("nft", "/usr/sbin/nft", iptables, { run, netfilter: access(kernel, procNet) }).publish(net, A, "10.88.0.2", []);
    expect(run.calls.map((c) => c.argv.join(" "))).toEqual([`${iptables}-save -t filter`]);
  });
});

describe("the netfilter socket: kept for the process, let go of without waiting after a delete", () => {
  /** A fake kernel whose sockets' closes are recorded: "here", or "in a child" (closeInChild). */
  const recording = () => {
    const kernel = new FakeNftables();
    kernel.writeBase();
    const closes: string[] = [];
    kernel.close = (inChild?: boolean) => void closes.push(inChild ? "in a child" : "here");
    return { kernel, closes };
  };

  test("a start's reads and adds and its removal share one socket; after the delete its last close is a child's; the next use opens another", () => {
    const { kernel, closes } = recording();
    let opened = 0;
    const access = heldAccess(() => (opened++, new NetlinkSocket(kernel)), join(dir, "no-proc-net"));
    const fw = makeFirewall("nft", "/usr/sbin/nft", undefined, { run: fakeRunner([]), netfilter: access });
    expect(fw.published()).toEqual([]);
    fw.publish(net, A, "10.88.0.2", [tcp(8080, 80)]);
    expect(fw.entriesOf(A)).toEqual(["0.0.0.0:8080/tcp -> 10.88.0.2:80"]);
    expect({ opened, closes }).toEqual({ opened: 1, closes: [] });
    fw.unpublish(net, A, "10.88.0.2", [tcp(8080, 80)]);
    expect({ opened, closes }).toEqual({ opened: 1, closes: ["in a child"] });
    // Nothing of A's left: nothing is deleted, and the new socket is kept.
    fw.unpublish(net, A, "10.88.0.2", [tcp(8080, 80)]);
    expect({ opened, closes }).toEqual({ opened: 2, closes: ["in a child"] });
    expect(fw.published()).toEqual([]);
  });

  test("an element gone between the read and the delete: the batch deleted nothing, and the socket is kept", () => {
    const { kernel, closes } = recording();
    const fw = makeFirewall("nft", "/usr/sbin/nft", undefined, { run: fakeRunner([]), netfilter: heldAccess(() => new NetlinkSocket(kernel), join(dir, "no-proc-net")) });
    fw.publish(net, A, "10.88.0.2", [tcp(8080, 80)]);
    const send = kernel.send.bind(kernel);
    kernel.send = (datagram: Uint8Array) => {
      // Someone else's removal just before cbox's batch (its delete then fails with ENOENT).
      if (splitMessages(datagram)[0]!.type === NFT.NFNL_MSG_BATCH_BEGIN) kernel.maps.get("ports")!.clear();
      return send(datagram);
    };
    kernel.asked = [];
    fw.unpublish(net, A, "10.88.0.2", [tcp(8080, 80)]);
    expect(kernel.asked).toEqual(["dump elements addrports", "dump elements ports", "batch 1", "dump elements addrports", "dump elements ports"]);
    expect(closes).toEqual([]);
  });

  test("an access without done (another namespace's, as tests reach it) closes each socket here", () => {
    const { kernel, closes } = recording();
    const fw = makeFirewall("nft", "/usr/sbin/nft", undefined, { run: fakeRunner([]), netfilter: access(kernel) });
    fw.publish(net, A, "10.88.0.2", [tcp(8080, 80)]);
    fw.unpublish(net, A, "10.88.0.2", [tcp(8080, 80)]);
    expect(closes).toEqual(["here", "here"]);
  });
});
