// Names on a named network: the hosts lines each member gets for the others.
import { describe, expect, test } from "bun:test";
import { peerLines } from "../../src/container/network/peers.ts";

describe("peerLines", () => {
  const net = (ip: string | undefined, aliases?: string[]) => ({ mode: "bridge" as const, ports: [], ip, aliases, network: "appnet" });
  const a = "a".repeat(64);
  const b = "b".repeat(64);
  const c = "c".repeat(64);
  test("every other member: its address, then its name, aliases and short id; not itself, not one without an address", () => {
    const members = [
      { id: a, name: "web", net: net("10.88.0.2", ["api", "www"]) },
      { id: b, name: "", net: net("10.88.0.3") },
      { id: c, name: "half-made", net: net(undefined) },
    ];
    expect(peerLines(b, members)).toBe(`10.88.0.2\tweb api www ${a.slice(0, 12)}\n`);
    expect(peerLines(a, members)).toBe(`10.88.0.3\t${b.slice(0, 12)}\n`);
  });
});
