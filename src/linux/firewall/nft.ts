// The nftables driver: everything cbox adds lives in `table ip cbox`; ports are elements of two
// maps, tagged with their container. A start reads the table through netlink (NetfilterAccess)
// and runs `nft -f -` only when the base must be (re)written; ports are added and removed through
// netlink too (one batch each), and iptables-nft's FORWARD is checked there.
import { checkNetwork, checkPorts, servedNetworks, conflict, describeOwned, FirewallError, hostKey, iptablesBackend, ownedMatches, portsToAdd, shortOwner, type BridgeNetwork, type PublishedEntry, type PublishedPort, type Runner, type ToolResult } from "./common.ts";
import { ensureForward } from "./iptables.ts";
import { nftBaseCommands } from "./nft-base.ts";
import { letGo, type NetfilterAccess } from "./netfilter-access.ts";
import { addPorts, baseIsCurrent, deletePorts, forwardState, legacyFilterLoaded, readPorts } from "./nft-state.ts";

export { nftBaseCommands } from "./nft-base.ts";

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
   * run and netfilter act in one network namespace: nft and iptables run there, netlink reaches it.
   */
  constructor(
    readonly nft: string,
    readonly iptables: string | undefined,
    private readonly run: Runner,
    private readonly netfilter: NetfilterAccess,
  ) {}

  /** The base only when the kernel's table is not this base's; the ports and FORWARD through netlink. */
  publish(net: BridgeNetwork, owner: string, containerIp: string, ports: PublishedPort[]): void {
    const checked = checkPorts(net, containerIp, ports);
    shortOwner(owner);
    const sock = this.netfilter.open();
    try {
      if (!baseIsCurrent(sock, net)) {
        const batch = `${nftBaseCommands(net).join("\n")}\n`;
        const res = this.run([this.nft, "-f", "-"], batch);
        if (res.code !== 0) throw new FirewallError(nftMessage(res, batch));
      }
      let add = checked;
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
      const needed = backend === "nft" ? forwardState(sock, servedNetworks(net).map((n) => n.bridge)) === "missing" : backend !== "legacy" || legacyFilterLoaded(this.netfilter.procNet);
      if (needed) ensureForward(this.iptables, net, this.run);
    } finally {
      letGo(this.netfilter, sock);
    }
  }

  /**
   * One batch of deletes; read again and retried once when an element vanished meanwhile. The
   * ports are gone when it returns; the socket's close, which would wait for nf_tables to free
   * them, is left to netfilter (netfilter-access.ts).
   */
  unpublish(net: BridgeNetwork, owner: string, _containerIp: string, ports: PublishedPort[]): void {
    checkNetwork(net);
    const sock = this.netfilter.open();
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
      letGo(this.netfilter, sock, deleted);
    }
  }

  entriesOf(owner: string): string[] {
    return describeOwned(this.published(), owner);
  }

  published(): PublishedEntry[] {
    const sock = this.netfilter.open();
    try {
      return readPorts(sock).sort((a, b) => hostKey(a).localeCompare(hostKey(b)));
    } finally {
      letGo(this.netfilter, sock);
    }
  }
}
