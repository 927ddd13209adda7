// What the nft driver reads and changes straight through netlink, so that a start runs no process:
// whether cbox's table is the one the base would write (every rule signed, as many as the base
// has), whether iptables-nft's FORWARD drops and CBOX-FORWARD is in place, and the ports, which are
// the maps' elements (read, added and deleted in batches, atomic as `nft -f` is).
import { readFileSync } from "node:fs";
import { NetlinkError, type NetlinkSocket } from "../netlink.ts";
import { formatIpv4, ipv4Bytes } from "../net/ipv4.ts";
import { FirewallError, ownerTag, type BridgeNetwork, type PublishedEntry, type PublishedPort } from "./common.ts";
import { baseFacts } from "./nft-base.ts";
import { batchMessages, dumpElementsMessage, dumpRulesMessage, elementMessage, getChainMessage, parseChainPolicy, parseElements, parseRule, type NftRule, type SetElement } from "./nft-netlink.ts";

export { namespaceOf, thisNamespace, type NetfilterAccess } from "./netfilter-access.ts";

const ENOENT = 2;
const EEXIST = 17;
const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17 };

/** Whether cbox's table is there, written by this base for this bridge and subnet, and whole. */
export function baseIsCurrent(sock: NetlinkSocket, net: BridgeNetwork): boolean {
  const rules = dumpRules(sock, "cbox", undefined, false);
  if (!rules) return false;
  const { signature, counts: wanted } = baseFacts(net);
  const counts = new Map<string, number>();
  for (const rule of rules) {
    if (rule.comment !== signature) return false;
    counts.set(rule.chain, (counts.get(rule.chain) ?? 0) + 1);
  }
  return counts.size === wanted.size && [...wanted].every(([chain, n]) => counts.get(chain) === n);
}

/**
 * iptables-nft's FORWARD chain (table ip filter): "accepts" when it is missing or its policy is
 * not drop; "handled" when it drops and has one jump to a CBOX-FORWARD that accepts the bridge's
 * traffic (the two rules iptables.ts's filterSpec writes); "missing" when it drops and that is not so.
 */
export function forwardState(sock: NetlinkSocket, bridges: string[]): "accepts" | "handled" | "missing" {
  let policy: string | undefined;
  try {
    policy = parseChainPolicy(sock.request(getChainMessage("filter", "FORWARD"))[0] ?? new Uint8Array());
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENOENT) return "accepts";
    throw err;
  }
  if (policy !== "drop") return "accepts";
  const jumps = (dumpRules(sock, "filter", "FORWARD") ?? []).filter((r) => same(withoutCounters(r), ["immediate jump CBOX-FORWARD"]));
  const own = (dumpRules(sock, "filter", "CBOX-FORWARD") ?? []).map(withoutCounters);
  const fromBridge = (exprs: string[], bridge: string) => same(exprs, ["meta iifname", `cmp eq ${bridge}`, "immediate accept"]);
  const toBridge = (exprs: string[], bridge: string) => same(exprs.slice(0, 2), ["meta oifname", `cmp eq ${bridge}`]) && exprs.at(-1) === "immediate accept" && exprs.some((e) => e === "match conntrack" || e === "ct");
  const handles = (bridge: string, i: number) => fromBridge(own[2 * i]!, bridge) && toBridge(own[2 * i + 1]!, bridge);
  return jumps.length === 1 && own.length === 2 * bridges.length && bridges.every(handles) ? "handled" : "missing";
}

/** Whether legacy iptables has a filter table in this namespace (only then can its FORWARD drop). */
export function legacyFilterLoaded(procNet: string): boolean {
  try {
    return readFileSync(`${procNet}/ip_tables_names`, "utf8").split("\n").includes("filter");
  } catch {
    return false; // no ip_tables module: no legacy table at all
  }
}

/** The ports in cbox's maps; none when the table is not there. */
export function readPorts(sock: NetlinkSocket): PublishedEntry[] {
  const entries: PublishedEntry[] = [];
  for (const map of ["addrports", "ports"] as const) {
    let msgs: Uint8Array[];
    try {
      msgs = sock.dump(dumpElementsMessage("cbox", map));
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === ENOENT) continue;
      throw err;
    }
    for (const msg of msgs) for (const el of parseElements(msg)) {
      const entry = entryOfElement(map, el);
      if (entry) entries.push(entry);
    }
  }
  return entries;
}

/**
 * Adds the ports in one batch (all or none). Returns the ports whose key is taken (nothing was
 * added then); other refusals are a FirewallError.
 */
export function addPorts(sock: NetlinkSocket, owner: string, containerIp: string, ports: PublishedPort[]): PublishedPort[] {
  if (ports.length === 0) return [];
  const reqs = ports.map((p) => elementMessage("create", "cbox", mapOf(p), portElement(owner, containerIp, p), `publish ${describePort(p)}`));
  const replies = runBatch(sock, reqs);
  const taken = ports.filter((_, i) => replies[i]?.errno === EEXIST);
  const failed = replies.findIndex((r) => r && r.errno !== 0 && r.errno !== EEXIST);
  if (failed >= 0) throw batchError(reqs[failed]!.what, replies[failed]!);
  return taken;
}

/** Deletes these entries in one batch; false when one was gone (then none was deleted). */
export function deletePorts(sock: NetlinkSocket, entries: PublishedEntry[]): boolean {
  if (entries.length === 0) return true;
  const reqs = entries.map((e) => elementMessage("delete", "cbox", mapOf(e), portElement(e.owner, e.containerIp, e), `unpublish ${describePort(e)}`));
  const replies = runBatch(sock, reqs);
  if (replies.some((r) => r?.errno === ENOENT)) return false;
  const failed = replies.findIndex((r) => r && r.errno !== 0);
  if (failed >= 0) throw batchError(reqs[failed]!.what, replies[failed]!);
  return true;
}

/** The element of a port: key (addr .) proto . port and value addr . port, each field in a 4-byte register. */
export function portElement(owner: string, containerIp: string, p: PublishedPort): SetElement {
  const key = new Uint8Array(p.hostIp ? 12 : 8);
  if (p.hostIp) key.set(ipv4Bytes(p.hostIp));
  const at = p.hostIp ? 4 : 0;
  key[at] = PROTOCOLS[p.proto]!;
  key.set(be16(p.hostPort), at + 4);
  const data = new Uint8Array(8);
  data.set(ipv4Bytes(containerIp));
  data.set(be16(p.containerPort), 4);
  return { key, data, comment: ownerTag(owner) };
}

/** The port an element of map stands for; undefined when it is not one cbox could have written. */
export function entryOfElement(map: "ports" | "addrports", el: SetElement): PublishedEntry | undefined {
  const size = map === "addrports" ? 12 : 8;
  if (el.key.length !== size || el.data?.length !== 8) return undefined;
  const at = map === "addrports" ? 4 : 0;
  const proto = Object.keys(PROTOCOLS).find((name) => PROTOCOLS[name] === el.key[at]) as PublishedPort["proto"] | undefined;
  if (!proto) return undefined;
  const owner = el.comment?.startsWith("cbox:") ? el.comment.slice(5) : "";
  return {
    hostIp: map === "addrports" ? formatIpv4(readU32(el.key, 0)) : "",
    hostPort: (el.key[at + 4]! << 8) | el.key[at + 5]!,
    containerPort: (el.data[4]! << 8) | el.data[5]!,
    proto,
    owner,
    containerIp: formatIpv4(readU32(el.data, 0)),
  };
}

function mapOf(p: PublishedPort): "ports" | "addrports" {
  return p.hostIp ? "addrports" : "ports";
}

function describePort(p: PublishedPort): string {
  return `${p.hostIp || "0.0.0.0"}:${p.hostPort}/${p.proto}`;
}

/** The rules of a table (or one chain of it); undefined when it is not there. */
function dumpRules(sock: NetlinkSocket, table: string, chain?: string, withExpressions = true): NftRule[] | undefined {
  try {
    const rules = sock.dump(dumpRulesMessage(table, chain)).map((msg) => parseRule(msg, withExpressions));
    // The kernel filters the dump by table and chain; a rule of another would only be a surprise.
    return rules.filter((r) => r.table === table && (chain === undefined || r.chain === chain));
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENOENT) return undefined;
    throw err;
  }
}

/** The replies to the batch's own requests; a refused begin or end of the batch is thrown. */
function runBatch(sock: NetlinkSocket, reqs: ReturnType<typeof elementMessage>[]) {
  const replies = sock.batch(batchMessages(reqs));
  const [begin, end] = [replies[0], replies.at(-1)];
  if (begin && begin.errno) throw batchError("begin an nftables batch", begin);
  if (end && end.errno) throw batchError("end an nftables batch", end);
  const own = replies.slice(1, -1);
  if (own.some((r) => r === undefined)) throw new FirewallError(`nft: ${reqs.map((r) => r.what).join(", ")}: the kernel did not answer`);
  return own;
}

function batchError(what: string, reply: { errno: number; text?: string }): FirewallError {
  return new FirewallError(`nft: ${new NetlinkError(what, reply.errno, reply.text).message}`);
}

const withoutCounters = (r: NftRule) => r.exprs.filter((e) => e !== "counter");
const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function be16(n: number): Uint8Array {
  return new Uint8Array([n >> 8, n & 0xff]);
}

function readU32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0, false);
}
