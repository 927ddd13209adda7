// cbox's nftables table without its ports: the `nft -f` lines that make it, and the signature
// every one of its rules carries, so that a start can tell over netlink, without running nft,
// that the table in the kernel is this one (nft-state.ts).
import { servedNetworks, type BridgeNetwork } from "./common.ts";

/**
 * The table, its maps and chains. `add` of a table, map or chain is a no-op when it is there, and
 * `flush chain` + `add rule` rewrites a chain's rules in the same transaction, so sending this
 * again neither duplicates rules nor touches the maps' elements (other containers' ports).
 * Wildcard ports: `ports` (proto . port); one host address: `addrports` (addr . proto . port),
 * looked up first. A miss ends the rule, so the two dnat rules fall through.
 * The guard: route_localnet=1 on the bridge would let a container reach the host's 127.0.0.1, and
 * routing would let other hosts reach containers directly; both are dropped before conntrack. The
 * bridge's own address is not a container's: the host's own connections to it come in on lo.
 * Every rule's comment is the signature of the whole text (baseSignature).
 */
export function nftBaseCommands(net: BridgeNetwork): string[] {
  const { signature } = baseFacts(net);
  return unsignedBase(net).map((line) => (line.startsWith("add rule ") ? `${line} comment "${signature}"` : line));
}

function unsignedBase(net: BridgeNetwork): string[] {
  const nets = servedNetworks(net);
  return [
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
    // nft 1.0.6 refuses the name dstnat on the output hook; -100 is its value.
    "add chain ip cbox output { type nat hook output priority -100; policy accept; }",
    "flush chain ip cbox output",
    "add rule ip cbox output fib daddr type local jump published",
    "add chain ip cbox postrouting { type nat hook postrouting priority srcnat; policy accept; }",
    "flush chain ip cbox postrouting",
    ...nets.flatMap(({ bridge, subnet }) => [
      `add rule ip cbox postrouting ip saddr ${subnet} oifname != "${bridge}" masquerade`,
      `add rule ip cbox postrouting oifname "${bridge}" ct status dnat ip saddr { 127.0.0.0/8, ${subnet} } masquerade`,
    ]),
    "add chain ip cbox guard { type filter hook prerouting priority raw; policy accept; }",
    "flush chain ip cbox guard",
    // Also keeps networks apart: a container of one is not let into another's subnet.
    ...nets.flatMap(({ bridge, subnet }) => [
      `add rule ip cbox guard iifname "${bridge}" ip daddr 127.0.0.0/8 drop`,
      `add rule ip cbox guard iifname != "${bridge}" ip daddr ${subnet} fib daddr type != local drop`,
    ]),
  ];
}

/**
 * What a check needs of the base for a bridge and subnet. signature: "cbox-base-" and 16 hex of
 * the sha256 of the base's text; it changes with the bridge, the subnet and any change of the rules
 * in a later cbox, so a table written for anything else is rewritten. counts: how many rules each
 * chain has ({published: 2, prerouting: 1, ...}).
 */
export function baseFacts(net: BridgeNetwork): { signature: string; counts: Map<string, number> } {
  const lines = unsignedBase(net);
  const hash = new Bun.CryptoHasher("sha256").update(lines.join("\n")).digest("hex");
  const counts = new Map<string, number>();
  for (const line of lines) {
    const chain = /^add rule ip cbox (\S+) /.exec(line)?.[1];
    if (chain) counts.set(chain, (counts.get(chain) ?? 0) + 1);
  }
  return { signature: `cbox-base-${hash.slice(0, 16)}`, counts };
}
