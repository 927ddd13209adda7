// The firewall of bridge networking: outbound NAT for the bridge's subnet, the guard rules, and
// published ports (DNAT), in nftables (`table ip cbox`) or iptables (CBOX* chains). IPv4 only.
// Nothing that cbox did not add is ever changed; everything it adds is tagged or in its own chains.
import { FirewallError, findBinary, spawnRunner, type BridgeNetwork, type PublishedEntry, type PublishedPort, type Runner } from "./common.ts";
import { IptablesFirewall } from "./iptables.ts";
import { NftFirewall } from "./nft.ts";
import { thisNamespace, type NetfilterAccess } from "./netfilter-access.ts";

export { FirewallError, type BridgeNetwork, type Protocol, type PublishedEntry, type PublishedPort, type Runner, type ToolResult } from "./common.ts";
export { IptablesFirewall } from "./iptables.ts";
export { NftFirewall } from "./nft.ts";
export { namespaceOf, thisNamespace, type NetfilterAccess } from "./netfilter-access.ts";

export interface Firewall {
  readonly kind: "nft" | "iptables";
  /**
   * Makes cbox's table or chains for the bridge (safe at every start: never duplicates rules,
   * never drops other containers' ports) and publishes one container's ports. nft: the table is
   * read through netlink and `nft -f -` runs only when it must be (re)written, the ports are one
   * netlink batch; iptables: one iptables-save and one iptables-restore. A host port (with its address and
   * protocol) published by another container, or twice, is a FirewallError naming it; the same
   * port with the same owner and target is left as it is. On a host whose iptables FORWARD policy
   * is DROP, adds the CBOX-FORWARD chain (iptables' filter table) when it is missing.
   * owner: the container id (its first 12 hex are the tag).
   */
  publish(net: BridgeNetwork, owner: string, containerIp: string, ports: PublishedPort[]): void;
  /** Removes these ports of that owner; ones already gone are fine; others' entries are never touched. */
  unpublish(net: BridgeNetwork, owner: string, containerIp: string, ports: PublishedPort[]): void;
  /** The owner's entries still present, as "0.0.0.0:8080/tcp -> 10.88.0.2:80". */
  entriesOf(owner: string): string[];
  /** Every port in cbox's table or chain, with its owner (12 hex; "" when untagged). */
  published(): PublishedEntry[];
}

export type FirewallKind = Firewall["kind"];

/**
 * Which firewall to use: CBOX_FIREWALL=nft|iptables|none, else nft when found, else iptables,
 * else none. which(name) finds a tool's path. A named one that is not installed is an error.
 */
export function chooseFirewall(env: Record<string, string | undefined>, which: (name: string) => string | undefined): { kind: FirewallKind; path: string } | undefined {
  const wanted = env.CBOX_FIREWALL;
  if (wanted === "none") return undefined;
  if (wanted !== undefined && wanted !== "" && wanted !== "nft" && wanted !== "iptables") {
    throw new FirewallError(`CBOX_FIREWALL=${wanted}: expected nft, iptables or none`);
  }
  const order: FirewallKind[] = wanted ? [wanted] : ["nft", "iptables"];
  for (const kind of order) {
    const path = which(kind);
    if (path) return { kind, path };
  }
  if (wanted) throw new FirewallError(`CBOX_FIREWALL=${wanted}: ${wanted} is not installed`);
  return undefined;
}

/** Where a driver acts: its tools' runner and, for nft, netlink, in one network namespace. */
export interface FirewallPlace {
  run: Runner;
  netfilter: NetfilterAccess;
}

/** This process's network namespace: the one every start acts in (tests make their own). */
export const THIS_NAMESPACE: FirewallPlace = { run: spawnRunner, netfilter: thisNamespace };

/** CBOX_FIREWALL=nft|iptables overrides; else nft if `nft` is on PATH, else iptables, else undefined. */
export function detectFirewall(env: Record<string, string | undefined>, place: FirewallPlace = THIS_NAMESPACE): Firewall | undefined {
  const which = (name: string) => findBinary(name, env);
  const chosen = chooseFirewall(env, which);
  if (!chosen) return undefined;
  return makeFirewall(chosen.kind, chosen.path, which("iptables"), place);
}

/** A driver for the given tools (tests use this to pick iptables-legacy, or a place of their own). */
export function makeFirewall(kind: FirewallKind, path: string, iptables: string | undefined, place: FirewallPlace = THIS_NAMESPACE): Firewall {
  return kind === "nft" ? new NftFirewall(path, iptables, place.run, place.netfilter) : new IptablesFirewall(path, place.run);
}
