// Root's containers on the bridge cbox0: one veth pair each, an address leased in the storage
// root, a default route through the bridge, NAT and published ports in cbox's own firewall table.
import { closeSync, existsSync, openSync } from "node:fs";
import { join } from "node:path";
import { warn } from "../../cli/output.ts";
import { CboxError } from "../../errors.ts";
import { detectFirewall, type Firewall } from "../../linux/firewall/index.ts";
import { addAddress, listAddresses } from "../../linux/net/addr.ts";
import { parseCidr, subnetText } from "../../linux/net/ipv4.ts";
import { createBridge, createVeth, deleteLink, linkByName, setAlias, setHairpin, setUp } from "../../linux/net/link.ts";
import { addDefaultRoute, listRoutes } from "../../linux/net/route.ts";
import { readSysctl, setSysctl } from "../../linux/net/sysctl.ts";
import { NetlinkSocket } from "../../linux/netlink.ts";
import type { Paths } from "../../paths.ts";
import type { NetworkAttachment } from "./attachment.ts";
import { choosePorts } from "./host-ports.ts";
import { allocateAddress, releaseAddress, withNetworkLock } from "./ipam.ts";
import type { NetworkSpec } from "./spec.ts";
import { chooseSubnet, gatewayOf } from "./subnet.ts";

export const BRIDGE = "cbox0";
/** Fixed and locally administered: a bridge otherwise takes its lowest port's MAC, and changes. */
const BRIDGE_MAC = "02:cb:0c:00:00:01";
/** The bridge's alias: this, then the storage root that holds its leases. */
const ALIAS_PREFIX = "cbox ";

/** What a start needs from its caller. */
export interface ReserveContext {
  id: string;
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
  const firewall = detectFirewall(process.env);
  if (!firewall && spec.ports.length > 0) throw new CboxError("cannot publish ports: neither nft nor iptables is installed");
  if (!firewall) warn("neither nft nor iptables is installed: containers on cbox0 reach only this host");
  const sock = NetlinkSocket.open();
  try {
    const { leases, subnet } = ensureBridge(sock, ctx.paths.root);
    const cidr = parseCidr(subnet)!;
    const ip = allocateAddress(leases, leaseHolder(ctx.paths, ctx.id), subnet, ctx.isAlive);
    const net: NetworkAttachment = { mode: "bridge", ip, gateway: gatewayOf(subnet), prefix: cidr.prefix, veth: vethName(ctx.id), ports: [], firewall: firewall?.kind, leases };
    ctx.record(net);
    if (firewall) {
      withNetworkLock(leases, () => {
        net.ports = spec.ports.length > 0 ? choosePorts(spec.ports, firewall.published()) : [];
        ctx.record(net);
        firewall.publish({ bridge: BRIDGE, subnet }, ctx.id, ip, net.ports);
      });
    }
    return net;
  } finally {
    sock.close();
  }
}

/** A lease is held by a container folder: containers of every storage root share one bridge. */
function leaseHolder(paths: Paths, id: string): string {
  return join(paths.containers, id);
}

/**
 * cbox0 up with its address, made the first time; its subnet is what it has, or the first
 * candidate no host route overlaps. Its alias names the storage root whose network folder
 * holds its leases: containers of other roots (cbox --root) lease there too, so no address is
 * ever given twice. A bridge whose leasing root is gone is taken over.
 */
function ensureBridge(sock: NetlinkSocket, root: string): { leases: string; subnet: string } {
  const found = linkByName(sock, BRIDGE);
  if (found && !found.alias?.startsWith(ALIAS_PREFIX)) throw new CboxError(`a link named ${BRIDGE} exists and is not cbox's; remove it, or use --network none`);
  const owner = found?.alias?.slice(ALIAS_PREFIX.length);
  const leases = owner && existsSync(join(owner, "network")) ? owner : root;
  return { leases, subnet: withNetworkLock(leases, () => bridgeSubnet(sock, leases)) };
}

function bridgeSubnet(sock: NetlinkSocket, leases: string): string {
  let link = linkByName(sock, BRIDGE);
  if (link && link.alias !== `${ALIAS_PREFIX}${leases}`) setAlias(sock, link.index, `${ALIAS_PREFIX}${leases}`);
  const address = link && listAddresses(sock).find((a) => a.index === link!.index);
  let subnet: string;
  if (link && address) {
    subnet = subnetText(parseCidr(`${address.ip}/${address.prefix}`)!);
  } else {
    subnet = chooseSubnet(listRoutes(sock), link?.index, process.env.CBOX_SUBNET || undefined);
    if (!link) {
      createBridge(sock, BRIDGE, BRIDGE_MAC);
      link = linkByName(sock, BRIDGE)!;
      setAlias(sock, link.index, `${ALIAS_PREFIX}${leases}`);
    }
    addAddress(sock, link.index, gatewayOf(subnet), parseCidr(subnet)!.prefix);
  }
  // Host loopback -> published port: DNAT to the bridge keeps the 127.0.0.1 source, which the
  // kernel drops on a non-loopback device unless told (the firewall's guard rules close the
  // other direction). Forwarding is host-wide, as docker sets it.
  setSysctl(`ipv4/conf/${BRIDGE}/route_localnet`, "1");
  if (readSysctl("ipv4/ip_forward") !== "1") setSysctl("ipv4/ip_forward", "1");
  return subnet;
}

/** The held container gets its veth: eth0 inside, up, with its address and default route. */
export function connectBridge(net: NetworkAttachment, pid: number): void {
  const nsFd = openSync(`/proc/${pid}/ns/net`, "r");
  const host = NetlinkSocket.open();
  let inside: NetlinkSocket | undefined;
  try {
    const bridge = linkByName(host, BRIDGE);
    if (!bridge) throw new CboxError(`the bridge ${BRIDGE} is gone`);
    createVeth(host, { name: net.veth!, master: bridge.index, mtu: bridge.mtu, peerName: "eth0", peerNsFd: nsFd });
    // A container reaching its own published port: the DNAT sends the packet back out of the port it came in by.
    setHairpin(host, linkByName(host, net.veth!)!.index);
    inside = NetlinkSocket.open(nsFd);
    const eth0 = linkByName(inside, "eth0")!;
    setUp(inside, eth0.index);
    addAddress(inside, eth0.index, net.ip!, net.prefix!);
    addDefaultRoute(inside, net.gateway!, eth0.index);
  } finally {
    inside?.close();
    host.close();
    closeSync(nsFd);
  }
}

/** Its ports, its veth (gone already when its network namespace ended) and its lease. */
export function releaseBridge(net: NetworkAttachment, id: string, paths: Paths): void {
  const firewall: Firewall | undefined = net.firewall ? detectFirewall({ ...process.env, CBOX_FIREWALL: net.firewall }) : undefined;
  if (firewall && net.ip && net.ports.length > 0) {
    const subnet = subnetText(parseCidr(`${net.ip}/${net.prefix}`)!);
    withNetworkLock(net.leases ?? paths.root, () => firewall.unpublish({ bridge: BRIDGE, subnet }, id, net.ip!, net.ports));
  }
  if (net.veth) {
    const sock = NetlinkSocket.open();
    try {
      deleteLink(sock, net.veth);
    } finally {
      sock.close();
    }
  }
  releaseAddress(net.leases ?? paths.root, leaseHolder(paths, id));
}
