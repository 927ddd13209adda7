// The firewall drivers without root: the texts they send, the parsing of what the tools print,
// the choice of driver, and the iptables driver's publish/unpublish against a runner that plays
// iptables (the nft driver speaks netlink: test/unit/nft-netlink.test.ts and the firewall
// integration test).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseFirewall, detectFirewall, makeFirewall, type FirewallPlace, type PublishedPort, type Runner, type ToolResult } from "../../src/linux/firewall/index.ts";
import { checkPorts, findBinary, toolMessage } from "../../src/linux/firewall/common.ts";
import { nftBaseCommands, nftMessage } from "../../src/linux/firewall/nft.ts";
import { parsePortRules, parseSave, portLine, publishInput, unpublishInput } from "../../src/linux/firewall/iptables.ts";
import { baseFacts } from "../../src/linux/firewall/nft-base.ts";
import { thrown } from "./helpers.ts";

const net = { bridge: "cbox0", subnet: "10.88.0.0/16" };
const A = "a1".repeat(32);
const B = "b2".repeat(32);
const all: PublishedPort = { hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp" };
const local: PublishedPort = { hostIp: "127.0.0.1", hostPort: 8081, containerPort: 80, proto: "tcp" };
const udp: PublishedPort = { hostIp: "", hostPort: 5353, containerPort: 53, proto: "udp" };

const dir = mkdtempSync(join(tmpdir(), "cbox-fw-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Where a driver under test acts: the runner given, and a netfilter it must not reach (no netlink here). */
function place(run: Runner): FirewallPlace {
  return { run, netfilter: { open: () => { throw new Error("netfilter reached"); }, procNet: "" } };
}

/** A runner that answers from a list, in order, and records what it was asked. */
function fakeRunner(answers: Partial<ToolResult>[]): Runner & { calls: { argv: string[]; stdin?: string }[] } {
  const calls: { argv: string[]; stdin?: string }[] = [];
  const run = ((argv: string[], stdin?: string) => {
    calls.push({ argv, stdin });
    const a = answers.shift();
    if (!a) throw new Error(`unexpected call: ${argv.join(" ")}`);
    return { code: 0, stdout: "", stderr: "", ...a };
  }) as Runner & { calls: typeof calls };
  run.calls = calls;
  return run;
}

describe("several networks (cbox0 and named ones)", () => {
  const named = { bridge: "cbr0123456789ab", subnet: "10.89.0.0/16" };
  test("the base holds every network's NAT and guard rules, the same from whichever network a start is on", () => {
    const fromDefault = nftBaseCommands({ ...net, all: [named] });
    expect(nftBaseCommands({ ...named, all: [net, named] })).toEqual(fromDefault);
    expect(baseFacts({ ...net, all: [named] }).signature).not.toBe(baseFacts(net).signature);
    const rules = fromDefault.filter((l) => l.includes("postrouting") || l.includes("guard")).filter((l) => l.startsWith("add rule"));
    for (const n of [net, named]) {
      expect(rules.some((r) => r.includes(`ip saddr ${n.subnet} oifname != "${n.bridge}" masquerade`))).toBe(true);
      expect(rules.some((r) => r.includes(`iifname != "${n.bridge}" ip daddr ${n.subnet} fib daddr type != local drop`))).toBe(true);
    }
    expect(baseFacts({ ...net, all: [named] }).counts.get("guard")).toBe(4);
  });
  test("one network alone gives the base it always gave", () => {
    expect(nftBaseCommands({ ...net, all: [net] })).toEqual(nftBaseCommands(net));
  });
});

describe("nft texts", () => {
  test("the base is the verified ruleset, re-sendable (add + flush + add rule), every rule signed", () => {
    const signed = (line: string) => (line.startsWith("add rule ") ? `${line} comment "${baseFacts(net).signature}"` : line);
    expect(nftBaseCommands(net)).toEqual([
      "add table ip cbox",
      "add map ip cbox ports { type inet_proto . inet_service : ipv4_addr . inet_service; }",
      "add map ip cbox addrports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }",
      "add chain ip cbox published",
      "flush chain ip cbox published",
      "add rule ip cbox published dnat ip to ip daddr . meta l4proto . th dport map @addrports",
      "add rule ip cbox published dnat ip to meta l4proto . th dport map @ports",
      "add chain ip cbox prerouting { type nat hook prerouting priority dstnat; policy accept; }",
      "flush chain ip cbox prerouting",
      "add rule ip cbox prerouting fib daddr type local jump published",
      "add chain ip cbox output { type nat hook output priority -100; policy accept; }",
      "flush chain ip cbox output",
      "add rule ip cbox output fib daddr type local jump published",
      "add chain ip cbox postrouting { type nat hook postrouting priority srcnat; policy accept; }",
      "flush chain ip cbox postrouting",
      'add rule ip cbox postrouting ip saddr 10.88.0.0/16 oifname != "cbox0" masquerade',
      'add rule ip cbox postrouting oifname "cbox0" ct status dnat ip saddr { 127.0.0.0/8, 10.88.0.0/16 } masquerade',
      "add chain ip cbox guard { type filter hook prerouting priority raw; policy accept; }",
      "flush chain ip cbox guard",
      'add rule ip cbox guard iifname "cbox0" ip daddr 127.0.0.0/8 drop',
      'add rule ip cbox guard iifname != "cbox0" ip daddr 10.88.0.0/16 fib daddr type != local drop',
    ].map(signed));
  });

  test("the signature: 16 hex of the unsigned text's sha256; another subnet or bridge, another signature; rule counts per chain", () => {
    const facts = baseFacts(net);
    expect(facts.signature).toMatch(/^cbox-base-[0-9a-f]{16}$/);
    const unsigned = nftBaseCommands(net).map((l) => l.replace(` comment "${facts.signature}"`, "")).join("\n");
    expect(facts.signature).toBe(`cbox-base-${new Bun.CryptoHasher("sha256").update(unsigned).digest("hex").slice(0, 16)}`);
    expect(baseFacts({ bridge: "cbox0", subnet: "10.89.0.0/16" }).signature).not.toBe(facts.signature);
    expect(baseFacts({ bridge: "cbox1", subnet: "10.88.0.0/16" }).signature).not.toBe(facts.signature);
    expect(baseFacts({ bridge: "cbox0", subnet: "10.88.7.7/16" }).signature).toBe(facts.signature);
    expect(Object.fromEntries(facts.counts)).toEqual({ published: 2, prerouting: 1, output: 1, postrouting: 2, guard: 2 });
  });

  test("the subnet is written as its network address; a bad bridge name or subnet is refused", () => {
    const br1 = { bridge: "br1", subnet: "10.89.3.7/16" };
    expect(nftBaseCommands(br1)).toContain(`add rule ip cbox guard iifname != "br1" ip daddr 10.89.0.0/16 fib daddr type != local drop comment "${baseFacts(br1).signature}"`);
    expect(thrown(() => nftBaseCommands({ bridge: 'x" drop', subnet: "10.88.0.0/16" })).message).toBe('not a bridge name: "x" drop"');
    expect(thrown(() => nftBaseCommands({ bridge: "cbox0", subnet: "10.88.0.0" })).message).toBe('not an IPv4 subnet: "10.88.0.0"');
  });
});

describe("nft output", () => {
  test("nft's first error keeps nft's words, with the line of the batch it is about", () => {
    const other = { code: 1, stdout: "", stderr: "/dev/stdin:1:18-24: Error: Could not process rule: No such file or directory\nadd rule ip cbox nochain drop\n    ^^^^\n" };
    expect(nftMessage(other, "add rule ip cbox nochain drop\n")).toBe("nft: Could not process rule: No such file or directory (add rule ip cbox nochain drop)");
    expect(nftMessage({ code: 1, stdout: "", stderr: "Error: No such file or directory\nlist table ip nope\n" })).toBe("nft: No such file or directory");
  });
});

describe("iptables texts", () => {
  // iptables-nft-save of a netns that has cbox's base, one port, and a rule of the user's own.
  const saved = [
    "# Generated by iptables-nft-save v1.8.9 (nf_tables)",
    "*raw",
    ":PREROUTING ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":CBOX-GUARD - [0:0]",
    "-A PREROUTING -j CBOX-GUARD",
    "-A CBOX-GUARD -d 127.0.0.0/8 -i cbox0 -j DROP",
    "-A CBOX-GUARD -d 10.88.0.0/16 ! -i cbox0 -m addrtype ! --dst-type LOCAL -j DROP",
    "COMMIT",
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    ":INPUT ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
    ":CBOX - [0:0]",
    ":CBOX-POSTROUTING - [0:0]",
    ":MINE - [0:0]",
    "-A PREROUTING -m addrtype --dst-type LOCAL -j CBOX",
    "-A OUTPUT -m addrtype --dst-type LOCAL -j CBOX",
    "-A POSTROUTING -j CBOX-POSTROUTING",
    '-A CBOX -d 127.0.0.1/32 -p udp -m udp --dport 8081 -m comment --comment "cbox:b2b2b2b2b2b2" -j DNAT --to-destination 10.88.0.3:53',
    '-A CBOX -p tcp -m tcp --dport 8080 -m comment --comment "cbox:a1a1a1a1a1a1" -j DNAT --to-destination 10.88.0.2:80',
    "-A CBOX-POSTROUTING -s 10.88.0.0/16 ! -o cbox0 -j MASQUERADE",
    "-A CBOX-POSTROUTING -s 127.0.0.0/8 -o cbox0 -m conntrack --ctstate DNAT -j MASQUERADE",
    "-A CBOX-POSTROUTING -s 10.88.0.0/16 -o cbox0 -m conntrack --ctstate DNAT -j MASQUERADE",
    "-A MINE -p tcp -m tcp --dport 7 -j DNAT --to-destination 10.1.1.1:7",
    "COMMIT",
    "*filter",
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    "COMMIT",
    "",
  ].join("\n");

  test("a fresh host gets every chain, jump and rule in one restore input", () => {
    expect(publishInput(new Map(), net, A, "10.88.0.2", [all, local, udp])).toBe(
      [
        "*raw",
        ":CBOX-GUARD - [0:0]",
        "-A CBOX-GUARD -d 127.0.0.0/8 -i cbox0 -j DROP",
        "-A CBOX-GUARD -d 10.88.0.0/16 ! -i cbox0 -m addrtype ! --dst-type LOCAL -j DROP",
        "-A PREROUTING -j CBOX-GUARD",
        "COMMIT",
        "*nat",
        ":CBOX - [0:0]",
        ":CBOX-POSTROUTING - [0:0]",
        "-A CBOX-POSTROUTING -s 10.88.0.0/16 ! -o cbox0 -j MASQUERADE",
        "-A CBOX-POSTROUTING -s 127.0.0.0/8 -o cbox0 -m conntrack --ctstate DNAT -j MASQUERADE",
        "-A CBOX-POSTROUTING -s 10.88.0.0/16 -o cbox0 -m conntrack --ctstate DNAT -j MASQUERADE",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j CBOX",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j CBOX",
        "-A POSTROUTING -j CBOX-POSTROUTING",
        '-A CBOX -p tcp -m tcp --dport 8080 -m comment --comment "cbox:a1a1a1a1a1a1" -j DNAT --to-destination 10.88.0.2:80',
        '-I CBOX 1 -d 127.0.0.1/32 -p tcp -m tcp --dport 8081 -m comment --comment "cbox:a1a1a1a1a1a1" -j DNAT --to-destination 10.88.0.2:80',
        '-A CBOX -p udp -m udp --dport 5353 -m comment --comment "cbox:a1a1a1a1a1a1" -j DNAT --to-destination 10.88.0.2:53',
        "COMMIT",
        "",
      ].join("\n"),
    );
  });

  test("with the base in place: nothing without ports, only the port lines with them (CBOX is never declared again)", () => {
    const tables = parseSave(saved);
    expect(publishInput(tables, net, B, "10.88.0.4", [])).toBe("");
    expect(publishInput(tables, net, B, "10.88.0.4", [udp])).toBe(
      '*nat\n-A CBOX -p udp -m udp --dport 5353 -m comment --comment "cbox:b2b2b2b2b2b2" -j DNAT --to-destination 10.88.0.4:53\nCOMMIT\n',
    );
  });

  test("a changed subnet rewrites cbox's chains; a doubled jump loses its copy", () => {
    const doubled = parseSave(saved.replace("-A PREROUTING -j CBOX-GUARD\n", "-A PREROUTING -j CBOX-GUARD\n-A PREROUTING -j CBOX-GUARD\n"));
    expect(publishInput(doubled, { bridge: "cbox0", subnet: "10.89.0.0/16" }, B, "10.89.0.2", [])).toBe(
      [
        "*raw",
        ":CBOX-GUARD - [0:0]",
        "-A CBOX-GUARD -d 127.0.0.0/8 -i cbox0 -j DROP",
        "-A CBOX-GUARD -d 10.89.0.0/16 ! -i cbox0 -m addrtype ! --dst-type LOCAL -j DROP",
        "-D PREROUTING -j CBOX-GUARD",
        "COMMIT",
        "*nat",
        ":CBOX-POSTROUTING - [0:0]",
        "-A CBOX-POSTROUTING -s 10.89.0.0/16 ! -o cbox0 -j MASQUERADE",
        "-A CBOX-POSTROUTING -s 127.0.0.0/8 -o cbox0 -m conntrack --ctstate DNAT -j MASQUERADE",
        "-A CBOX-POSTROUTING -s 10.89.0.0/16 -o cbox0 -m conntrack --ctstate DNAT -j MASQUERADE",
        "COMMIT",
        "",
      ].join("\n"),
    );
  });

  test("FORWARD policy DROP brings CBOX-FORWARD, jumped to first; present, it is left alone", () => {
    const drop = parseSave(saved.replace(":FORWARD ACCEPT", ":FORWARD DROP"));
    expect(publishInput(drop, net, B, "10.88.0.4", [])).toBe(
      [
        "*filter",
        ":CBOX-FORWARD - [0:0]",
        "-A CBOX-FORWARD -i cbox0 -j ACCEPT",
        "-A CBOX-FORWARD -o cbox0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
        "-I FORWARD 1 -j CBOX-FORWARD",
        "COMMIT",
        "",
      ].join("\n"),
    );
    const fixed = saved.replace(
      ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n",
      ":FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:CBOX-FORWARD - [0:0]\n-A FORWARD -j CBOX-FORWARD\n-A CBOX-FORWARD -i cbox0 -j ACCEPT\n-A CBOX-FORWARD -o cbox0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT\n",
    );
    expect(publishInput(parseSave(fixed), net, B, "10.88.0.4", [])).toBe("");
  });

  test("port lines: every address appended, one address first, udp; removal by the printed rule", () => {
    expect(portLine("add", A, "10.88.0.2", all)).toBe('-A CBOX -p tcp -m tcp --dport 8080 -m comment --comment "cbox:a1a1a1a1a1a1" -j DNAT --to-destination 10.88.0.2:80');
    expect(portLine("add", A, "10.88.0.2", local)).toBe('-I CBOX 1 -d 127.0.0.1/32 -p tcp -m tcp --dport 8081 -m comment --comment "cbox:a1a1a1a1a1a1" -j DNAT --to-destination 10.88.0.2:80');
    expect(portLine("delete", A, "10.88.0.2", udp)).toBe('-D CBOX -p udp -m udp --dport 5353 -m comment --comment "cbox:a1a1a1a1a1a1" -j DNAT --to-destination 10.88.0.2:53');
    const entries = parsePortRules(parseSave(saved).get("nat"));
    expect(unpublishInput(entries.slice(1))).toBe('*nat\n-D CBOX -p tcp -m tcp --dport 8080 -m comment --comment "cbox:a1a1a1a1a1a1" -j DNAT --to-destination 10.88.0.2:80\nCOMMIT\n');
    expect(unpublishInput([])).toBe("");
  });

  test("CBOX's DNAT rules become ports with owners; other chains are not cbox's", () => {
    expect(parsePortRules(parseSave(saved).get("nat")).map(({ rule: _, ...e }) => e)).toEqual([
      { hostIp: "127.0.0.1", hostPort: 8081, containerPort: 53, proto: "udp", owner: "b2b2b2b2b2b2", containerIp: "10.88.0.3" },
      { hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp", owner: "a1a1a1a1a1a1", containerIp: "10.88.0.2" },
    ]);
    expect(parsePortRules(undefined)).toEqual([]);
  });

  test("iptables-restore's complaint names the line of the input", () => {
    const res = { code: 1, stdout: "", stderr: "iptables-restore: line 2 failed: Bad rule (does a matching rule exist in that chain?).\niptables-restore: line 2 failed\n" };
    expect(toolMessage("iptables-restore", res, "*nat\n-D CBOX -p tcp -j ACCEPT\nCOMMIT\n")).toBe(
      "iptables-restore: line 2 failed: Bad rule (does a matching rule exist in that chain?). (-D CBOX -p tcp -j ACCEPT)",
    );
    expect(toolMessage("iptables-save", { code: 1, stdout: "", stderr: "Table `bogus' does not exist\n" })).toBe("iptables-save: Table `bogus' does not exist");
  });
});

describe("checks before anything is written", () => {
  test("ports: twice, a bad address or port, a container outside the subnet, a bad id", () => {
    expect(thrown(() => checkPorts(net, "10.88.0.2", [all, { ...all, containerPort: 81 }])).message).toBe("port 0.0.0.0:8080/tcp is given twice");
    expect(thrown(() => checkPorts(net, "10.88.0.2", [{ ...all, hostIp: "::1" }])).message).toBe('not an IPv4 address: "::1"');
    expect(thrown(() => checkPorts(net, "10.88.0.2", [{ ...all, hostPort: 70000 }])).message).toBe("not a port: 70000");
    expect(thrown(() => checkPorts(net, "10.99.0.2", [all])).message).toBe('not an address in 10.88.0.0/16: "10.99.0.2"');
    expect(checkPorts(net, "10.88.0.2", [{ ...all, hostIp: "0.0.0.0" }])).toEqual([all]);
    const fw = makeFirewall("nft", "/usr/sbin/nft", undefined, place(fakeRunner([])));
    expect(thrown(() => fw.publish(net, "not-an-id", "10.88.0.2", [all])).message).toBe('not a container id: "not-an-id"');
  });
});

describe("driver choice", () => {
  const which = (have: string[]) => (name: string) => (have.includes(name) ? `/usr/sbin/${name}` : undefined);

  test("nft when there, else iptables, else none; CBOX_FIREWALL overrides", () => {
    expect(chooseFirewall({}, which(["nft", "iptables"]))).toEqual({ kind: "nft", path: "/usr/sbin/nft" });
    expect(chooseFirewall({}, which(["iptables"]))).toEqual({ kind: "iptables", path: "/usr/sbin/iptables" });
    expect(chooseFirewall({}, which([]))).toBeUndefined();
    expect(chooseFirewall({ CBOX_FIREWALL: "iptables" }, which(["nft", "iptables"]))).toEqual({ kind: "iptables", path: "/usr/sbin/iptables" });
    expect(chooseFirewall({ CBOX_FIREWALL: "none" }, which(["nft"]))).toBeUndefined();
    expect(thrown(() => chooseFirewall({ CBOX_FIREWALL: "nft" }, which(["iptables"]))).message).toBe("CBOX_FIREWALL=nft: nft is not installed");
    expect(thrown(() => chooseFirewall({ CBOX_FIREWALL: "pf" }, which(["nft"]))).message).toBe("CBOX_FIREWALL=pf: expected nft, iptables or none");
  });

  test("tools are looked up in PATH first, executables only", () => {
    for (const [name, mode] of [["nft", 0o755], ["iptables", 0o755], ["cbox-not-executable", 0o644]] as const) {
      writeFileSync(join(dir, name), "#!/bin/sh\n");
      chmodSync(join(dir, name), mode);
    }
    expect(findBinary("nft", { PATH: `relative:${dir}` })).toBe(join(dir, "nft"));
    expect(findBinary("cbox-not-executable", { PATH: dir })).toBeUndefined();
    expect(findBinary("cbox-no-such-tool", { PATH: dir })).toBeUndefined();
    const fw = detectFirewall({ PATH: dir, CBOX_FIREWALL: "nft" });
    expect(fw?.kind).toBe("nft");
    expect((fw as unknown as { nft: string }).nft).toBe(join(dir, "nft"));
    expect(detectFirewall({ PATH: dir, CBOX_FIREWALL: "iptables" })?.kind).toBe("iptables");
  });
});

describe("the iptables driver against a played iptables", () => {
  const fresh = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n";

  test("a start reads once and writes once", () => {
    const run = fakeRunner([{ stdout: fresh }, {}]);
    makeFirewall("iptables", "/usr/sbin/iptables", undefined, place(run)).publish(net, A, "10.88.0.2", [all]);
    expect(run.calls.map((c) => c.argv.join(" "))).toEqual(["/usr/sbin/iptables-save", "/usr/sbin/iptables-restore -w --noflush"]);
    expect(run.calls[1]!.stdin).toBe(publishInput(parseSave(fresh), net, A, "10.88.0.2", [all]));
  });

  test("a conflict writes nothing", () => {
    const taken = fresh.replace("COMMIT", ':CBOX - [0:0]\n-A CBOX -p tcp -m tcp --dport 8080 -m comment --comment "cbox:b2b2b2b2b2b2" -j DNAT --to-destination 10.88.0.3:80\nCOMMIT');
    const run = fakeRunner([{ stdout: taken }]);
    const err = thrown(() => makeFirewall("iptables", "/usr/sbin/iptables", undefined, place(run)).publish(net, A, "10.88.0.2", [local, all]));
    expect(err.message).toBe("port 0.0.0.0:8080/tcp is already published by container b2b2b2b2b2b2");
    expect(run.calls.length).toBe(1);
  });

  test("a failing restore is one line with the tool's words", () => {
    const run = fakeRunner([{ stdout: fresh }, { code: 4, stderr: "iptables-restore v1.8.9 (nf_tables): Couldn't load match `addrtype':No such file or directory\n\nError occurred at line: 12\nTry `iptables-restore -h' or 'iptables-restore --help' for more information.\n" }]);
    const err = thrown(() => makeFirewall("iptables", "/usr/sbin/iptables", undefined, place(run)).publish(net, A, "10.88.0.2", []));
    expect(err.message).toBe("iptables-restore v1.8.9 (nf_tables): Couldn't load match `addrtype':No such file or directory");
  });
});
