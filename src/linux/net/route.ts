// IPv4 routes through rtnetlink (RTM_NEWROUTE, RTM_GETROUTE): a container's default route, and
// the host's main table (to choose a subnet no route uses).
import { CREATE_FLAGS, DUMP_FLAGS, MessageWriter, NLMSG_HDRLEN, attrU32, parseAttributes, type NetlinkRequest, type NetlinkSocket } from "../netlink.ts";
import { ipv4Bytes } from "./ipv4.ts";

const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;
const AF_INET = 2;
const RT_TABLE_MAIN = 254;
const RTPROT_STATIC = 4;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;
const RTMSG_SIZE = 12;

export interface Route {
  /** The destination subnet's address; 0.0.0.0 with prefix 0 is the default route. */
  dst: string;
  prefix: number;
  gateway?: string;
  /** The index of the link it goes out of. */
  oif?: number;
  table: number;
}

/** struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; } */
function rtmsg(w: MessageWriter, dstLen: number, table: number, protocol: number, type: number): MessageWriter {
  return w.u8(AF_INET).u8(dstLen).u8(0).u8(0).u8(table).u8(protocol).u8(RT_SCOPE_UNIVERSE).u8(type).u32(0);
}

export function defaultRouteMessage(gateway: string, index: number): NetlinkRequest {
  const w = rtmsg(new MessageWriter(), 0, RT_TABLE_MAIN, RTPROT_STATIC, RTN_UNICAST).attr(RTA_GATEWAY, ipv4Bytes(gateway)).u32Attr(RTA_OIF, index);
  return { what: `add default route via ${gateway}`, type: RTM_NEWROUTE, flags: CREATE_FLAGS, body: w.finish() };
}

export function addDefaultRoute(sock: NetlinkSocket, gateway: string, index: number): void {
  sock.request(defaultRouteMessage(gateway, index));
}

/** The IPv4 routes of the main table. */
export function listRoutes(sock: NetlinkSocket): Route[] {
  const body = rtmsg(new MessageWriter(), 0, 0, 0, 0).finish();
  return sock
    .dump({ what: "list routes", type: RTM_GETROUTE, flags: DUMP_FLAGS, body })
    .map(parseRoute)
    .filter((r) => r.table === RT_TABLE_MAIN);
}

/** An RTM_NEWROUTE message, header included. */
export function parseRoute(msg: Uint8Array): Route {
  const attrs = parseAttributes(msg, NLMSG_HDRLEN + RTMSG_SIZE);
  const dst = attrs.get(RTA_DST);
  const route: Route = {
    dst: dst ? [...dst].join(".") : "0.0.0.0",
    prefix: msg[NLMSG_HDRLEN + 1]!,
    // rtm_table is a u8: tables past 255 are only in RTA_TABLE.
    table: attrs.has(RTA_TABLE) ? attrU32(attrs.get(RTA_TABLE)!) : msg[NLMSG_HDRLEN + 4]!,
  };
  const gateway = attrs.get(RTA_GATEWAY);
  if (gateway) route.gateway = [...gateway].join(".");
  const oif = attrs.get(RTA_OIF);
  if (oif) route.oif = attrU32(oif);
  return route;
}
