// Network interfaces through rtnetlink (RTM_*LINK): a bridge, veth pairs whose container end is
// made directly in the container's network namespace, and what a link is. Each *Message function
// builds a request without sending it, so the bytes can be checked without a socket.
import { attrString, attrU32, CHANGE_FLAGS, CREATE_FLAGS, DUMP_FLAGS, MessageWriter, NetlinkError, NLMSG_HDRLEN, parseAttributes, type NetlinkRequest, type NetlinkSocket } from "../netlink.ts";

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_IFALIAS = 20;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_DATA = 5;
const VETH_INFO_PEER = 1;
const IFLA_BRPORT_MODE = 4;
const BRIDGE_MODE_HAIRPIN = 1;

const IFF_UP = 1;
const ENODEV = 19;
const IFINFOMSG_SIZE = 16;

export interface Link {
  index: number;
  name: string;
  alias?: string;
  mtu: number;
  /** Administratively up (IFF_UP), whether or not it has a carrier. */
  up: boolean;
  /** The index of the bridge it is a port of. */
  master?: number;
  /** Its MAC address, "02:42:cb:0c:00:01". */
  mac?: string;
}

export interface VethOptions {
  /** The host end's name (15 characters at most). */
  name: string;
  /** The index of the bridge the host end joins. */
  master: number;
  /** Both ends' MTU; the kernel's default (1500) when not given. */
  mtu?: number;
  /** The container end's name, in its namespace. */
  peerName: string;
  /** An fd open on the container's /proc/PID/ns/net. */
  peerNsFd: number;
}

/** struct ifinfomsg { u8 family; u8 pad; u16 type; i32 index; u32 flags; u32 change; } */
function ifinfomsg(w: MessageWriter, index = 0, flags = 0): MessageWriter {
  return w.u8(0).u8(0).u16(0).i32(index).u32(flags).u32(flags);
}

/** A bridge, created up, with a fixed MAC: else it takes its lowest port's, which changes as ports come and go. */
export function bridgeMessage(name: string, mac: string): NetlinkRequest {
  const w = ifinfomsg(new MessageWriter(), 0, IFF_UP).stringAttr(IFLA_IFNAME, name).attr(IFLA_ADDRESS, macBytes(mac));
  w.nested(IFLA_LINKINFO, () => w.stringAttr(IFLA_INFO_KIND, "bridge"));
  return { what: `create bridge ${name}`, type: RTM_NEWLINK, flags: CREATE_FLAGS, body: w.finish() };
}

export function createBridge(sock: NetlinkSocket, name: string, mac: string): void {
  sock.request(bridgeMessage(name, mac));
}

// The kernel accepts IFLA_IFALIAS when a link is created but does not set it: it takes a change.
export function aliasMessage(index: number, alias: string): NetlinkRequest {
  const body = ifinfomsg(new MessageWriter(), index).stringAttr(IFLA_IFALIAS, alias).finish();
  return { what: `set the alias of link ${index}`, type: RTM_NEWLINK, flags: CHANGE_FLAGS, body };
}

export function setAlias(sock: NetlinkSocket, index: number, alias: string): void {
  sock.request(aliasMessage(index, alias));
}

export function upMessage(index: number): NetlinkRequest {
  return { what: `set link ${index} up`, type: RTM_NEWLINK, flags: CHANGE_FLAGS, body: ifinfomsg(new MessageWriter(), index, IFF_UP).finish() };
}

export function setUp(sock: NetlinkSocket, index: number): void {
  sock.request(upMessage(index));
}

/** The host end comes up as a port of the bridge; the peer may not be up at creation (ENOTCONN). */
export function vethMessage(o: VethOptions): NetlinkRequest {
  const w = ifinfomsg(new MessageWriter(), 0, IFF_UP).stringAttr(IFLA_IFNAME, o.name).u32Attr(IFLA_MASTER, o.master);
  if (o.mtu !== undefined) w.u32Attr(IFLA_MTU, o.mtu);
  w.nested(IFLA_LINKINFO, () => {
    w.stringAttr(IFLA_INFO_KIND, "veth");
    w.nested(IFLA_INFO_DATA, () =>
      w.nested(VETH_INFO_PEER, () => {
        ifinfomsg(w).stringAttr(IFLA_IFNAME, o.peerName).u32Attr(IFLA_NET_NS_FD, o.peerNsFd);
        if (o.mtu !== undefined) w.u32Attr(IFLA_MTU, o.mtu);
      }),
    );
  });
  return { what: `create veth ${o.name}`, type: RTM_NEWLINK, flags: CREATE_FLAGS, body: w.finish() };
}

export function createVeth(sock: NetlinkSocket, o: VethOptions): void {
  sock.request(vethMessage(o));
}

/** Lets a bridge port send a frame back out of the port it came in on (a container reaching itself through a published port). */
export function hairpinMessage(name: string): NetlinkRequest {
  // By name (index 0): the kernel finds the link itself, and a start asks it one question fewer.
  const w = ifinfomsg(new MessageWriter()).stringAttr(IFLA_IFNAME, name);
  w.nested(IFLA_LINKINFO, () => w.nested(IFLA_INFO_SLAVE_DATA, () => w.u8Attr(IFLA_BRPORT_MODE, BRIDGE_MODE_HAIRPIN)));
  return { what: `set hairpin mode on link ${name}`, type: RTM_NEWLINK, flags: CHANGE_FLAGS, body: w.finish() };
}

export function setHairpin(sock: NetlinkSocket, name: string): void {
  sock.request(hairpinMessage(name));
}

export function getLinkMessage(name: string): NetlinkRequest {
  return { what: `find link ${name}`, type: RTM_GETLINK, flags: CHANGE_FLAGS, body: ifinfomsg(new MessageWriter()).stringAttr(IFLA_IFNAME, name).finish() };
}

/** The link, or undefined when there is none of that name. */
export function linkByName(sock: NetlinkSocket, name: string): Link | undefined {
  try {
    const [reply] = sock.request(getLinkMessage(name));
    return reply && parseLink(reply);
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENODEV) return undefined;
    throw err;
  }
}

export function listLinks(sock: NetlinkSocket): Link[] {
  const body = ifinfomsg(new MessageWriter()).finish();
  return sock.dump({ what: "list links", type: RTM_GETLINK, flags: DUMP_FLAGS, body }).map(parseLink);
}

/** Down, by name: a bridge port that is down passes nothing either way (ifi_change IFF_UP, ifi_flags 0). */
export function downMessage(name: string): NetlinkRequest {
  const body = new MessageWriter().u8(0).u8(0).u16(0).i32(0).u32(0).u32(IFF_UP).stringAttr(IFLA_IFNAME, name).finish();
  return { what: `set link ${name} down`, type: RTM_NEWLINK, flags: CHANGE_FLAGS, body };
}

/** False when there was no such link. */
export function setDown(sock: NetlinkSocket, name: string): boolean {
  return requestUnlessGone(sock, downMessage(name));
}

/** Deleting either end of a veth pair deletes both. */
export function deleteLinkMessage(name: string): NetlinkRequest {
  return { what: `delete link ${name}`, type: RTM_DELLINK, flags: CHANGE_FLAGS, body: ifinfomsg(new MessageWriter()).stringAttr(IFLA_IFNAME, name).finish() };
}

/** False when there was no such link (gone already: a veth goes with its container's namespace). */
export function deleteLink(sock: NetlinkSocket, name: string): boolean {
  return requestUnlessGone(sock, deleteLinkMessage(name));
}

/** Sends a request about one link; false when the link does not exist (ENODEV). */
function requestUnlessGone(sock: NetlinkSocket, req: NetlinkRequest): boolean {
  try {
    sock.request(req);
    return true;
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENODEV) return false;
    throw err;
  }
}

/** An RTM_NEWLINK message, header included. */
export function parseLink(msg: Uint8Array): Link {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const attrs = parseAttributes(msg, NLMSG_HDRLEN + IFINFOMSG_SIZE);
  const link: Link = {
    index: view.getInt32(NLMSG_HDRLEN + 4, true),
    name: attrString(attrs.get(IFLA_IFNAME) ?? new Uint8Array()),
    mtu: attrs.has(IFLA_MTU) ? attrU32(attrs.get(IFLA_MTU)!) : 0,
    up: (view.getUint32(NLMSG_HDRLEN + 8, true) & IFF_UP) !== 0,
  };
  const alias = attrs.get(IFLA_IFALIAS);
  if (alias) link.alias = attrString(alias);
  const master = attrs.get(IFLA_MASTER);
  if (master) link.master = attrU32(master);
  const mac = attrs.get(IFLA_ADDRESS);
  if (mac?.length === 6) link.mac = formatMac(mac);
  return link;
}

export function macBytes(mac: string): Uint8Array {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new Error(`not a MAC address: ${mac}`);
  return new Uint8Array(mac.split(":").map((h) => parseInt(h, 16)));
}

export function formatMac(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}
