// Root's containers on the bridge cbox0: one veth pair each, an address leased in the storage
// root, a default route through the bridge, NAT and published ports in cbox's own firewall table.
import { closeSync, existsSync, openSync } from "node:fs";
import { join } from "node:path";
import { warn } from "../../cli/output.ts";
import { CboxError } from "../../errors.ts";
import { detectFirewall, type Firewall } from "../../linux/firewall/index.ts";
import { addAddress, listAddresses } from "../../linux/net/addr.ts";
import { formatIpv4, parseCidr, subnetText } from "../../linux/net/ipv4.ts";
import { createBridge, createVeth, deleteLink, linkByName, setAlias, setDown, setHairpin, setUp, type Link, type VethOptions } from "../../linux/net/link.ts";
import { addDefaultRoute, listRoutes } from "../../linux/net/route.ts";
import { readSysctl, setSysctl } from "../../linux/net/sysctl.ts";
import { NetlinkError, NetlinkSocket } from "../../linux/netlink.ts";
import type { Paths } from "../../paths.ts";
import type { NetworkAttachment } from "./attachment.ts";
import { choosePorts } from "./host-ports.ts";
import { allocateAddress, releaseAddress, withNetworkLock } from "./ipam.ts";
import type { NetworkSpec } from "./spec.ts";
import { chooseSubnet, gatewayOf, type RouteLike } from "./subnet.ts";
import { findNetwork, listNetworks, networkDir, type NamedNetwork } from "./named.ts";

export const BRIDGE = "cbox0";
/** Fixed and locally administered: a bridge otherwise takes its lowest port's MAC, and changes. */
const BRIDGE_MAC = "02:cb:0c:00:00:01";
/** The bridge's alias: this, then the storage root that holds its leases. */
const ALIAS_PREFIX = "cbox ";

/** What a start needs from its caller. */
export interface ReserveContext {
  id: string;
  /** The host end of the veth and the interface inside, for a network connected later (default: cbID and eth0). */
  link?: { veth: string; iface: string };
  paths: Paths;
  /** Whether the container in this folder still runs (leases of ended ones come back). */
  isAlive: (containerDir: string) => boolean;
  record: (net: NetworkAttachment) => void;
}

/** The host end of a container's veth pair: 15 characters at most (IFNAMSIZ). */
export function vethName(id: string): string {
  return `cb${id.slice(0, 12)}`;
}

export function reserveBridge(spec: NetworkSpec, ctx: ReserveContext): NetworkAttachment {
  const named = spec.network === undefined ? undefined : findNetwork(ctx.paths, spec.network);
  const bridge = named?.bridge ?? BRIDGE;
  const firewall = detectFirewall(process.env);
  if (!firewall && spec.ports.length > 0) throw new CboxError("cannot publish ports: neither nft nor iptables is installed");
  if (!firewall) warn(`neither nft nor iptables is installed: containers on ${bridge} reach only this host`);
  const sock = NetlinkSocket.open();
  try {
    const leases = named ? networkDir(ctx.paths, named.name) : leasingRoot(sock, ctx.paths.root);
    // One hold of the lock for the bridge, the lease and the firewall (the calls inside nest in it).
    return withNetworkLock(leases, () => {
      const { subnet, link } = named ? namedBridge(sock, named) : bridgeSubnet(sock, leases, ctx.paths);
      bridgesSeen.set(bridge, link);
      const ip = allocateAddress(leases, leaseHolder(ctx.paths, ctx.id), subnet, ctx.isAlive);
      const net: NetworkAttachment = { mode: "bridge", ip, gateway: gatewayOf(subnet), prefix: parseCidr(subnet)!.prefix, veth: ctx.link?.veth ?? vethName(ctx.id), ports: [], firewall: firewall?.kind, leases };
      if (ctx.link) net.iface = ctx.link.iface;
      if (named) Object.assign(net, { network: named.name, bridge, aliases: spec.aliases ?? [] });
      ctx.record(net);
      if (firewall) {
        if (spec.ports.length > 0) {
          net.ports = choosePorts(spec.ports, firewall.published());
          ctx.record(net);
        }
        const cbox0 = named ? cbox0Subnet(sock) : subnet;
        const all = [...(cbox0 ? [{ bridge: BRIDGE, subnet: cbox0 }] : []), ...listNetworks(ctx.paths).map((n) => ({ bridge: n.bridge, subnet: n.subnet }))];
        firewall.publish({ bridge, subnet, all }, ctx.id, ip, net.ports);
      }
      return net;
    });
  } finally {
    sock.close();
  }
}

/**
 * The bridges a start found (or made) under the network lock, by name: its connect, moments
 * later in the same process, plugs the veth into that one without asking the kernel again.
 */
const bridgesSeen = new Map<string, Link>();

/** cbox0's subnet once it has its address: cbox's firewall rules serve it next to every named network's. */
function cbox0Subnet(sock: NetlinkSocket): string | undefined {
  const link = linkByName(sock, BRIDGE);
  const address = link && listAddresses(sock).find((a) => a.index === link.index);
  return address && subnetText(parseCidr(`${address.ip}/${address.prefix}`)!);
}

/** A named network's bridge, made (or made again, after a reboot) with its recorded subnet. */
export function namedBridge(sock: NetlinkSocket, net: NamedNetwork): { subnet: string; link: Link } {
  let link = linkByName(sock, net.bridge);
  if (link && link.alias !== `${ALIAS_PREFIX}network ${net.name}`) throw new CboxError(`a link named ${net.bridge} exists and is not network ${net.name}'s; remove it`);
  if (!link) {
    createBridge(sock, net.bridge, `02:cb:0c:${net.id.slice(0, 6).replace(/(..)(?!$)/g, "$1:")}`);
    link = linkByName(sock, net.bridge)!;
    setAlias(sock, link.index, `${ALIAS_PREFIX}network ${net.name}`);
  }
  if (!listAddresses(sock).some((a) => a.index === link!.index)) addAddress(sock, link.index, net.gateway, parseCidr(net.subnet)!.prefix);
  allowForwarding(net.bridge);
  return { subnet: net.subnet, link };
}

/**
 * Host loopback -> published port: DNAT to the bridge keeps the 127.0.0.1 source, which the
 * kernel drops on a non-loopback device unless told (the firewall's guard rules close the other
 * direction). Forwarding is host-wide, as docker sets it.
 */
function allowForwarding(bridge: string): void {
  setSysctl(`ipv4/conf/${bridge}/route_localnet`, "1");
  if (readSysctl("ipv4/ip_forward") !== "1") setSysctl("ipv4/ip_forward", "1");
}

/** A lease is held by a container folder: containers of every storage root share one bridge. */
function leaseHolder(paths: Paths, id: string): string {
  return join(paths.containers, id);
}

/**
 * The storage root whose network folder holds the leases: the one cbox0's alias names, so that
 * containers of other roots (cbox --root) lease there too and no address is ever given twice; a
 * bridge whose leasing root is gone is taken over by root.
 */
function leasingRoot(sock: NetlinkSocket, root: string): string {
  const found = linkByName(sock, BRIDGE);
  if (found && !found.alias?.startsWith(ALIAS_PREFIX)) throw new CboxError(`a link named ${BRIDGE} exists and is not cbox's; remove it, or use --network none`);
  const owner = found?.alias?.slice(ALIAS_PREFIX.length);
  return owner && existsSync(join(owner, "network")) ? owner : root;
}

/**
 * Under the leasing root's lock: cbox0 up with its address, made the first time; its subnet is
 * what it has, or the first candidate no host route overlaps. Its alias names the leasing root.
 */
function bridgeSubnet(sock: NetlinkSocket, leases: string, paths: Paths): { subnet: string; link: Link } {
  let link = linkByName(sock, BRIDGE);
  if (link && link.alias !== `${ALIAS_PREFIX}${leases}`) setAlias(sock, link.index, `${ALIAS_PREFIX}${leases}`);
  const address = link && listAddresses(sock).find((a) => a.index === link!.index);
  let subnet: string;
  if (link && address) {
    subnet = subnetText(parseCidr(`${address.ip}/${address.prefix}`)!);
  } else {
    subnet = chooseSubnet([...listRoutes(sock), ...namedSubnets(paths)], link?.index, process.env.CBOX_SUBNET || undefined);
    if (!link) {
      createBridge(sock, BRIDGE, BRIDGE_MAC);
      link = linkByName(sock, BRIDGE)!;
      setAlias(sock, link.index, `${ALIAS_PREFIX}${leases}`);
    }
    addAddress(sock, link.index, gatewayOf(subnet), parseCidr(subnet)!.prefix);
  }
  allowForwarding(BRIDGE);
  return { subnet, link };
}

/** The named networks' subnets, as routes a new bridge must not overlap (their bridges may not exist yet). */
export function namedSubnets(paths: Paths): RouteLike[] {
  return listNetworks(paths).map((n) => {
    const cidr = parseCidr(n.subnet)!;
    return { dst: formatIpv4(cidr.addr), prefix: cidr.prefix };
  });
}

/** The held container gets its veth: eth0 inside, up, with its address and default route. */
export function connectBridge(net: NetworkAttachment, pid: number): void {
  const nsFd = openSync(`/proc/${pid}/ns/net`, "r");
  const host = NetlinkSocket.open();
  let inside: NetlinkSocket | undefined;
  try {
    const bridge = bridgesSeen.get(net.bridge ?? BRIDGE) ?? linkByName(host, net.bridge ?? BRIDGE);
    if (!bridge) throw new CboxError(`the bridge ${net.bridge ?? BRIDGE} is gone`);
    const iface = net.iface ?? "eth0";
    createVethOnce(host, { name: net.veth!, master: bridge.index, mtu: bridge.mtu, peerName: iface, peerNsFd: nsFd });
    // A container reaching its own published port: the DNAT sends the packet back out of the port it came in by.
    setHairpin(host, net.veth!);
    inside = NetlinkSocket.open(nsFd);
    const link = linkByName(inside, iface)!;
    setUp(inside, link.index);
    addAddress(inside, link.index, net.ip!, net.prefix!);
    // The network it started on routes the rest; one connected later reaches only its subnet.
    if (!net.iface) addDefaultRoute(inside, net.gateway!, link.index);
  } finally {
    inside?.close();
    host.close();
    closeSync(nsFd);
  }
}

/**
 * A veth of this name left down by the container's earlier run (a restart of the same id before
 * the kernel has finished with its old network namespace) is deleted and the pair made again.
 */
function createVethOnce(sock: NetlinkSocket, o: VethOptions): void {
  try {
    createVeth(sock, o);
  } catch (err) {
    const left = err instanceof NetlinkError && err.code === "EEXIST" ? linkByName(sock, o.name) : undefined;
    if (!left || left.up || !deleteLink(sock, o.name)) throw err;
    createVeth(sock, o);
  }
}

/**
 * Its ports, its veth and its lease. The veth pair goes with the container's network namespace,
 * which the kernel takes apart in the background once nothing holds it: deleting it here would
 * wait for that work (an RCU barrier, 15-30 ms). Its host end is set down instead, so that even
 * while it lasts (or if something keeps the namespace) it passes nothing, and its address can be
 * leased again at once.
 */
export function releaseBridge(net: NetworkAttachment, id: string, paths: Paths): void {
  const firewall: Firewall | undefined = net.firewall && net.ports.length > 0 ? detectFirewall({ ...process.env, CBOX_FIREWALL: net.firewall }) : undefined;
  if (firewall && net.ip) {
    const subnet = subnetText(parseCidr(`${net.ip}/${net.prefix}`)!);
    withNetworkLock(net.leases ?? paths.root, () => firewall.unpublish({ bridge: net.bridge ?? BRIDGE, subnet }, id, net.ip!, net.ports));
  }
  if (net.veth) {
    const sock = NetlinkSocket.open();
    try {
      setDown(sock, net.veth);
    } finally {
      sock.close();
    }
  }
  releaseAddress(net.leases ?? paths.root, leaseHolder(paths, id));
}
