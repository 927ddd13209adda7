// The nftables driver: everything cbox adds lives in `table ip cbox`; ports are elements of two
// maps, tagged with their container. With netlink (NetfilterAccess), a start reads the table
// through it and runs nft only when the base must be (re)written; ports are added and removed
// through it too, and iptables-nft's FORWARD is checked there. Without it (a runner that acts
// elsewhere), a start is one `nft -f -` batch with the base and the ports (atomic: all or nothing).
import {
  checkNetwork,
  checkPorts,
  conflict,
  describeOwned,
  FirewallError,
  hostKey,
  iptablesBackend,
  ownedMatches,
  ownerTag,
  portsToAdd,
  shortOwner,
  type BridgeNetwork,
  type PublishedEntry,
  type PublishedPort,
  type Runner,
  type ToolResult,
} from "./common.ts";
import { ensureForward } from "./iptables.ts";
import { nftBaseCommands } from "./nft-base.ts";
import { letGo, type NetfilterAccess } from "./netfilter-access.ts";
import { addPorts, baseIsCurrent, deletePorts, forwardState, legacyFilterLoaded, readPorts } from "./nft-state.ts";

export { nftBaseCommands } from "./nft-base.ts";

/** `create` fails with EEXIST when the key is taken (that is the conflict check); `delete` by key. */
export function nftElement(verb: "create" | "delete", owner: string, containerIp: string, p: PublishedPort): string {
  const map = p.hostIp ? "addrports" : "ports";
  const key = p.hostIp ? `${p.hostIp} . ${p.proto} . ${p.hostPort}` : `${p.proto} . ${p.hostPort}`;
  if (verb === "delete") return `delete element ip cbox ${map} { ${key} }`;
  return `create element ip cbox ${map} { ${key} comment "${ownerTag(owner)}" : ${containerIp} . ${p.containerPort} }`;
}

/**
 * The batch of a start: the base, one line per port, and, when asked, `list chains ip` at the end
 * (its output shows whether iptables-nft's FORWARD chain drops, at no extra process).
 */
export function nftPublishBatch(net: BridgeNetwork, owner: string, containerIp: string, ports: PublishedPort[], listChains = false): string {
  const lines = [...nftBaseCommands(net), ...ports.map((p) => nftElement("create", owner, containerIp, p))];
  if (listChains) lines.push("list chains ip");
  return lines.join("\n") + "\n";
}

export function nftUnpublishBatch(entries: PublishedEntry[]): string {
  return entries.map((e) => nftElement("delete", e.owner, e.containerIp, e) + "\n").join("");
}

/** The ports in `nft -j list table ip cbox` (or `list map`) output. */
export function parseNftTable(json: string): PublishedEntry[] {
  const doc = JSON.parse(json) as { nftables?: Record<string, unknown>[] };
  const entries: PublishedEntry[] = [];
  for (const item of doc.nftables ?? []) {
    const map = item.map as { table?: string; name?: string; elem?: unknown[] } | undefined;
    if (!map || map.table !== "cbox" || (map.name !== "ports" && map.name !== "addrports")) continue;
    for (const pair of map.elem ?? []) {
      const entry = parseElement(map.name, pair);
      if (entry) entries.push(entry);
    }
  }
  return entries;
}

/** nft names a protocol from /etc/protocols; a host without that file (no netbase) gets the number. */
const PROTOCOL_NUMBERS: Record<string, string> = { "6": "tcp", "17": "udp" };

// [{"elem": {"val": {"concat": ["tcp", 8080]}, "comment": "cbox:..."}}, {"concat": ["10.88.0.2", 80]}]
// (without a comment the key is the bare {"concat": [...]}).
function parseElement(map: string, pair: unknown): PublishedEntry | undefined {
  if (!Array.isArray(pair) || pair.length !== 2) return undefined;
  const [key, value] = pair as [Record<string, unknown>, Record<string, unknown>];
  const elem = key.elem as { val?: { concat?: unknown[] }; comment?: string } | undefined;
  const concat = (elem ? elem.val?.concat : (key.concat as unknown[] | undefined)) ?? [];
  const comment = elem?.comment ?? "";
  const target = (value.concat as unknown[] | undefined) ?? [];
  const [hostIp, rawProto, hostPort] = map === "addrports" ? concat : ["", ...concat];
  const proto = PROTOCOL_NUMBERS[String(rawProto)] ?? rawProto;
  const [containerIp, containerPort] = target;
  if ((proto !== "tcp" && proto !== "udp") || typeof hostPort !== "number" || typeof containerPort !== "number") return undefined;
  if (typeof hostIp !== "string" || typeof containerIp !== "string") return undefined;
  const owner = comment.startsWith("cbox:") ? comment.slice(5) : "";
  return { hostIp, hostPort, containerPort, proto, owner, containerIp };
}

/** Whether `list chains ip` text shows iptables-nft's FORWARD chain with policy drop. */
export function forwardDropped(chains: string): boolean {
  let table = "";
  let chain = "";
  for (const line of chains.split("\n")) {
    const t = /^table (\S+ \S+) \{/.exec(line);
    if (t) table = t[1]!;
    const c = /^\s+chain (\S+) \{/.exec(line);
    if (c) chain = c[1]!;
    if (table === "ip filter" && chain === "FORWARD" && /hook forward .*policy drop;/.test(line)) return true;
  }
  return false;
}

/** The ports whose `create element` lines failed because the key is taken. */
export function takenInBatch(batch: string, stderr: string, ports: PublishedPort[], owner: string, containerIp: string): PublishedPort[] {
  const lines = batch.split("\n");
  const byLine = new Map(ports.map((p) => [nftElement("create", owner, containerIp, p), p]));
  const taken: PublishedPort[] = [];
  for (const m of stderr.matchAll(/^[^\n:]*:(\d+):[\d-]+: Error: Could not process rule: File exists$/gm)) {
    const p = byLine.get(lines[Number(m[1]) - 1] ?? "");
    if (p) taken.push(p);
  }
  return taken;
}

/** nft's first error, without its "/dev/stdin:5:1-3:" position, with the line it is about. */
export function nftMessage(res: ToolResult, batch?: string): string {
  const m = /^(?:[^\n:]*:(\d+):[\d-]+: )?Error: (.*)$/m.exec(res.stderr);
  if (!m) return `nft: ${res.stderr.trim().split("\n")[0] || `exit code ${res.code}`}`;
  const line = m[1] && batch ? batch.split("\n")[Number(m[1]) - 1] : undefined;
  return `nft: ${m[2]}${line ? ` (${line})` : ""}`;
}

export class NftFirewall {
  readonly kind = "nft" as const;

  /**
   * iptables: the iptables binary, if any, whose FORWARD policy may drop container traffic.
   * netfilter: the namespace run acts in, reached through netlink; without it every change runs nft.
   */
  constructor(
    readonly nft: string,
    readonly iptables: string | undefined,
    private readonly run: Runner,
    private readonly netfilter?: NetfilterAccess,
  ) {}

  publish(net: BridgeNetwork, owner: string, containerIp: string, ports: PublishedPort[]): void {
    const checked = checkPorts(net, containerIp, ports);
    shortOwner(owner);
    if (this.netfilter) return this.publishThrough(this.netfilter, net, owner, containerIp, checked);
    // With iptables-nft, its FORWARD chain is in nft's ruleset: the batch's listing shows it.
    const backend = this.iptables ? iptablesBackend(this.iptables) : undefined;
    const listChains = backend === "nft";
    let add = checked;
    let res: ToolResult;
    for (let attempt = 0; ; attempt++) {
      const batch = nftPublishBatch(net, owner, containerIp, add, listChains);
      res = this.run([this.nft, "-f", "-"], batch);
      if (res.code === 0) break;
      const taken = takenInBatch(batch, res.stderr, add, owner, containerIp);
      if (taken.length === 0 || attempt > 0) {
        if (taken.length > 0) throw conflict(taken[0]!, undefined);
        throw new FirewallError(nftMessage(res, batch));
      }
      // A taken key: another container's (a conflict, named), or this one's from an earlier start.
      const existing = this.published();
      add = portsToAdd(existing, owner, containerIp, add);
    }
    if (this.iptables && (backend !== "nft" || forwardDropped(res.stdout))) ensureForward(this.iptables, net, this.run);
  }

  /** The base only when the kernel's table is not this base's; the ports and FORWARD through netlink. */
  private publishThrough(netfilter: NetfilterAccess, net: BridgeNetwork, owner: string, containerIp: string, ports: PublishedPort[]): void {
    const sock = netfilter.open();
    try {
      if (!baseIsCurrent(sock, net)) {
        const batch = nftPublishBatch(net, owner, containerIp, []);
        const res = this.run([this.nft, "-f", "-"], batch);
        if (res.code !== 0) throw new FirewallError(nftMessage(res, batch));
      }
      let add = ports;
      for (let attempt = 0; add.length > 0; attempt++) {
        const taken = addPorts(sock, owner, containerIp, add);
        if (taken.length === 0) break;
        if (attempt > 0) throw conflict(taken[0]!, undefined);
        // A taken key: another container's (a conflict, named), or this one's from an earlier start.
        add = portsToAdd(readPorts(sock), owner, containerIp, add);
      }
      if (!this.iptables) return;
      const backend = iptablesBackend(this.iptables);
      // iptables-nft's FORWARD is in nf_tables; legacy's exists only once its filter table is loaded.
      const needed = backend === "nft" ? forwardState(sock, net.bridge) === "missing" : backend !== "legacy" || legacyFilterLoaded(netfilter.procNet);
      if (needed) ensureForward(this.iptables, net, this.run);
    } finally {
      letGo(netfilter, sock);
    }
  }

  unpublish(net: BridgeNetwork, owner: string, containerIp: string, ports: PublishedPort[]): void {
    checkNetwork(net);
    if (this.netfilter) return this.unpublishThrough(this.netfilter, owner, ports);
    const gone = ownedMatches(this.published(), owner, ports);
    if (gone.length === 0) return;
    const batch = nftUnpublishBatch(gone);
    const res = this.run([this.nft, "-f", "-"], batch);
    if (res.code !== 0) throw new FirewallError(nftMessage(res, batch));
  }

  /**
   * One batch of deletes; read again and retried once when an element vanished meanwhile. The
   * ports are gone when it returns; the socket's close, which would wait for nf_tables to free
   * them, is left to netfilter (netfilter-access.ts).
   */
  private unpublishThrough(netfilter: NetfilterAccess, owner: string, ports: PublishedPort[]): void {
    const sock = netfilter.open();
    let deleted = false;
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const gone = ownedMatches(readPorts(sock), owner, ports);
        if (deletePorts(sock, gone)) {
          deleted = gone.length > 0;
          return;
        }
      }
      throw new FirewallError(`nft: the ports of ${shortOwner(owner)} changed while they were removed; try again`);
    } finally {
      letGo(netfilter, sock, deleted);
    }
  }

  entriesOf(owner: string): string[] {
    return describeOwned(this.published(), owner);
  }

  published(): PublishedEntry[] {
    if (this.netfilter) {
      const sock = this.netfilter.open();
      try {
        return readPorts(sock).sort((a, b) => hostKey(a).localeCompare(hostKey(b)));
      } finally {
        letGo(this.netfilter, sock);
      }
    }
    const res = this.run([this.nft, "-j", "list", "table", "ip", "cbox"]);
    if (res.code !== 0) {
      if (/No such file or directory/.test(res.stderr)) return [];
      throw new FirewallError(nftMessage(res));
    }
    return parseNftTable(res.stdout).sort((a, b) => hostKey(a).localeCompare(hostKey(b)));
  }
}
