// This network namespace's TCP and UDP sockets, from the kernel's socket tables over
// NETLINK_SOCK_DIAG (inet_diag): what /proc/net/{tcp,udp}[6] lists, with the filtering done by the
// kernel. Reading /proc/net/tcp walks every bucket of the established hash, twice (the read that
// finds the end walks it again), ~0.7 ms each here; a query for the listeners on one port walks
// only the listening hash.
import { DUMP_FLAGS, MessageWriter, NLMSG_HDRLEN, type NetlinkRequest, type NetlinkSocket } from "../netlink.ts";

/** The kernel's numbers, under the names linux/sock_diag.h, inet_diag.h, socket.h, in.h and tcp_states.h give them. */
export const DIAG = {
  SOCK_DIAG_BY_FAMILY: 20,
  AF_INET: 2,
  AF_INET6: 10,
  IPPROTO_TCP: 6,
  IPPROTO_UDP: 17,
  TCP_LISTEN: 10,
  /** idiag_cookie's "no cookie": the dump does not look for one socket. */
  INET_DIAG_NOCOOKIE: 0xffffffff,
} as const;

/** idiag_states: a bit per state (1 << TCP_LISTEN...); a UDP socket is TCP_CLOSE or TCP_ESTABLISHED. */
export const ALL_STATES = 0xffffffff;
export const LISTENING = 1 << DIAG.TCP_LISTEN;

// struct inet_diag_msg: u8 family, state, timer, retrans; struct inet_diag_sockid { be16 sport,
// dport; be32 src[4], dst[4]; u32 if; u32 cookie[2] }; u32 expires, rqueue, wqueue, uid, inode.
const MSG_SIZE = 72;
const SPORT_AT = 4;
const SRC_AT = 8;

/** One socket: its family, state, local port and local address (4 bytes for AF_INET, 16 for AF_INET6). */
export interface InetSocket {
  family: number;
  state: number;
  port: number;
  address: Uint8Array;
}

/**
 * struct inet_diag_req_v2 { u8 family, protocol, ext, pad; u32 states; struct inet_diag_sockid id }
 * as a dump of the sockets of one family and protocol in states; port (id.sport, network order)
 * other than 0 keeps only the sockets bound to it.
 */
export function inetDiagMessage(family: number, protocol: number, states: number, port = 0): NetlinkRequest {
  const w = new MessageWriter().u8(family).u8(protocol).u8(0).u8(0).u32(states);
  w.u8(port >> 8).u8(port & 0xff).u16(0);
  for (let i = 0; i < 8; i++) w.u32(0); // src, dst: any
  w.u32(0).u32(DIAG.INET_DIAG_NOCOOKIE).u32(DIAG.INET_DIAG_NOCOOKIE);
  const name = `${protocol === DIAG.IPPROTO_TCP ? "tcp" : protocol === DIAG.IPPROTO_UDP ? "udp" : `protocol ${protocol}`}${family === DIAG.AF_INET6 ? "6" : ""}`;
  return { what: `list the ${name} sockets${port ? ` on port ${port}` : ""}`, type: DIAG.SOCK_DIAG_BY_FAMILY, flags: DUMP_FLAGS, body: w.finish() };
}

/** One message of the dump (header included); undefined when too short to be one. */
export function parseInetDiag(msg: Uint8Array): InetSocket | undefined {
  if (msg.length < NLMSG_HDRLEN + MSG_SIZE) return undefined;
  const at = NLMSG_HDRLEN;
  const family = msg[at]!;
  const src = msg.subarray(at + SRC_AT, at + SRC_AT + 16);
  return { family, state: msg[at + 1]!, port: (msg[at + SPORT_AT]! << 8) | msg[at + SPORT_AT + 1]!, address: src.slice(0, family === DIAG.AF_INET ? 4 : 16) };
}

/** The sockets of a family and protocol in states (a bit per state), on port if not 0. */
export function inetSockets(sock: NetlinkSocket, family: number, protocol: number, states: number, port = 0): InetSocket[] {
  const found: InetSocket[] = [];
  for (const msg of sock.dump(inetDiagMessage(family, protocol, states, port))) {
    const s = parseInetDiag(msg);
    if (s && s.family === family) found.push(s);
  }
  return found;
}
