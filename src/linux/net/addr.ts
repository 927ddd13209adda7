// IPv4 addresses on links through rtnetlink (RTM_NEWADDR, RTM_GETADDR).
import { CREATE_FLAGS, DUMP_FLAGS, MessageWriter, NLMSG_HDRLEN, parseAttributes, type NetlinkRequest, type NetlinkSocket } from "../netlink.ts";
import { broadcastOf, ipv4Bytes, parseIpv4 } from "./ipv4.ts";

const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const AF_INET = 2;
const IFADDRMSG_SIZE = 8;

export interface Address {
  /** The link's index. */
  index: number;
  ip: string;
  prefix: number;
}

/** struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; } */
function ifaddrmsg(w: MessageWriter, prefix: number, index: number): MessageWriter {
  return w.u8(AF_INET).u8(prefix).u8(0).u8(0).u32(index);
}

/** ip on link index, with its subnet's broadcast address (the kernel adds the subnet's route). */
export function addressMessage(index: number, ip: string, prefix: number): NetlinkRequest {
  const addr = parseIpv4(ip);
  if (addr === undefined) throw new Error(`not an IPv4 address: ${ip}`);
  const bytes = ipv4Bytes(ip);
  const broadcast = new Uint8Array(4);
  new DataView(broadcast.buffer).setUint32(0, broadcastOf({ addr, prefix })); // network order
  const body = ifaddrmsg(new MessageWriter(), prefix, index).attr(IFA_LOCAL, bytes).attr(IFA_ADDRESS, bytes).attr(IFA_BROADCAST, broadcast).finish();
  return { what: `add address ${ip}/${prefix} to link ${index}`, type: RTM_NEWADDR, flags: CREATE_FLAGS, body };
}

export function addAddress(sock: NetlinkSocket, index: number, ip: string, prefix: number): void {
  sock.request(addressMessage(index, ip, prefix));
}

/** Every IPv4 address of every link. */
export function listAddresses(sock: NetlinkSocket): Address[] {
  const body = ifaddrmsg(new MessageWriter(), 0, 0).finish();
  return sock.dump({ what: "list addresses", type: RTM_GETADDR, flags: DUMP_FLAGS, body }).map(parseAddress);
}

/** An RTM_NEWADDR message, header included. */
export function parseAddress(msg: Uint8Array): Address {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const attrs = parseAttributes(msg, NLMSG_HDRLEN + IFADDRMSG_SIZE);
  // IFA_LOCAL is the link's own address; IFA_ADDRESS differs from it only on point-to-point links (the peer's).
  const ip = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
  return { index: view.getUint32(NLMSG_HDRLEN + 4, true), ip: ip ? [...ip].join(".") : "", prefix: view.getUint8(NLMSG_HDRLEN + 1) };
}
