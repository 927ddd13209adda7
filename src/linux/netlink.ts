// Netlink (rtnetlink, and nfnetlink for the firewall): every byte of a message is built and parsed
// here; the C shim only opens the socket (in another network namespace if asked), sends and
// receives. Requests are synchronous: one is sent, and its replies are read until its ACK, error or
// end of dump; a batch is sent in one datagram and its replies, all queued by the time the send
// returns, are read without waiting.
import { closeSync } from "node:fs";
import { CboxError, describeErrno, errnoName } from "../errors.ts";
import { netShim } from "../sys/shim.ts";

// struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }, in host byte order.
export const NLMSG_HDRLEN = 16;
export const NETLINK_ROUTE = 0;
export const NETLINK_SOCK_DIAG = 4;
export const NETLINK_NETFILTER = 12;
const EAGAIN = 11;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const NLM_F_DUMP = 0x300;
// In an NLMSG_ERROR's flags: only the request's header is echoed (NETLINK_CAP_ACK), and
// attributes with the kernel's explanation follow it (NETLINK_EXT_ACK).
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

/** Make something new; EEXIST when it is there already. */
export const CREATE_FLAGS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
/** Change, delete or get one thing. */
export const CHANGE_FLAGS = NLM_F_REQUEST | NLM_F_ACK;
export const DUMP_FLAGS = NLM_F_REQUEST | NLM_F_DUMP;

const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff; // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

// Big enough for any datagram the kernel sends: it sizes dump batches to at most 32 KiB.
const RECEIVE_SIZE = 65536;

/** One request: what it does (for errors), its message type and flags, and its body. */
export interface NetlinkRequest {
  what: string;
  type: number;
  flags: number;
  body: Uint8Array;
}

/** A little-endian message body: fixed structs, then attributes, each padded to 4 bytes. */
export class MessageWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private size = 0;

  u8(v: number): this {
    this.reserve(1).view.setUint8(this.size, v);
    this.size += 1;
    return this;
  }

  u16(v: number): this {
    this.reserve(2).view.setUint16(this.size, v, true);
    this.size += 2;
    return this;
  }

  u32(v: number): this {
    this.reserve(4).view.setUint32(this.size, v >>> 0, true);
    this.size += 4;
    return this;
  }

  i32(v: number): this {
    this.reserve(4).view.setInt32(this.size, v, true);
    this.size += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length).buf.set(b, this.size);
    this.size += b.length;
    return this;
  }

  /** struct rtattr { u16 len; u16 type; } + payload; len counts the payload but not the padding. */
  attr(type: number, payload: Uint8Array): this {
    return this.u16(4 + payload.length).u16(type).bytes(payload).pad();
  }

  u8Attr(type: number, v: number): this {
    return this.attr(type, new Uint8Array([v]));
  }

  u32Attr(type: number, v: number): this {
    return this.u16(8).u16(type).u32(v);
  }

  /** A NUL-terminated string. */
  stringAttr(type: number, s: string): this {
    const text = new TextEncoder().encode(s);
    return this.u16(4 + text.length + 1).u16(type).bytes(text).u8(0).pad();
  }

  /** An attribute whose payload is the attributes fill writes. */
  nested(type: number, fill: () => void): this {
    const at = this.size;
    this.u16(0).u16(type | NLA_F_NESTED);
    fill();
    this.view.setUint16(at, this.size - at, true);
    return this.pad();
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.size);
  }

  private pad(): this {
    while (this.size % 4) this.u8(0);
    return this;
  }

  private reserve(n: number): this {
    if (this.size + n <= this.buf.length) return this;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.size + n));
    grown.set(this.buf);
    this.buf = grown;
    this.view = new DataView(grown.buffer);
    return this;
  }
}

/** The request as sent: nlmsghdr (port id 0: the kernel) and the body. */
export function encodeMessage(req: NetlinkRequest, seq: number): Uint8Array {
  const msg = new Uint8Array(NLMSG_HDRLEN + req.body.length);
  const view = new DataView(msg.buffer);
  view.setUint32(0, msg.length, true);
  view.setUint16(4, req.type, true);
  view.setUint16(6, req.flags, true);
  view.setUint32(8, seq, true);
  msg.set(req.body, NLMSG_HDRLEN);
  return msg;
}

/** One received message; bytes is all of it, header included. */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  bytes: Uint8Array;
}

/** The messages in one datagram (a multi-part reply packs several). */
export function splitMessages(datagram: Uint8Array): NetlinkMessage[] {
  const view = viewOf(datagram);
  const out: NetlinkMessage[] = [];
  for (let at = 0; at + NLMSG_HDRLEN <= datagram.length; ) {
    const len = view.getUint32(at, true);
    if (len < NLMSG_HDRLEN || at + len > datagram.length) throw new Error(`netlink: a malformed message (length ${len} at byte ${at} of ${datagram.length})`);
    out.push({ type: view.getUint16(at + 4, true), flags: view.getUint16(at + 6, true), seq: view.getUint32(at + 8, true), bytes: datagram.slice(at, at + len) });
    at += align(len);
  }
  return out;
}

/** An NLMSG_ERROR: errno 0 is an ACK; text is the kernel's explanation, when it gave one. */
export function parseError(msg: NetlinkMessage): { errno: number; text?: string } {
  const view = viewOf(msg.bytes);
  const error = view.getInt32(NLMSG_HDRLEN, true);
  const errno = error === 0 ? 0 : -error;
  if (!(msg.flags & NLM_F_ACK_TLVS)) return { errno };
  const echoedAt = NLMSG_HDRLEN + 4;
  const echoed = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : view.getUint32(echoedAt, true);
  const attrs = parseAttributes(msg.bytes, echoedAt + align(echoed));
  const text = attrs.get(NLMSGERR_ATTR_MSG);
  return text ? { errno, text: attrString(text) } : { errno };
}

/** The attributes from byte start of bytes to its end: type -> payload (the last one of a type wins). */
export function parseAttributes(bytes: Uint8Array, start: number): Map<number, Uint8Array> {
  const view = viewOf(bytes);
  const attrs = new Map<number, Uint8Array>();
  for (let at = start; at + 4 <= bytes.length; ) {
    const len = view.getUint16(at, true);
    if (len < 4 || at + len > bytes.length) break;
    attrs.set(view.getUint16(at + 2, true) & NLA_TYPE_MASK, bytes.subarray(at + 4, at + len));
    at += align(len);
  }
  return attrs;
}

/** Attributes in order, repeats kept (nfnetlink's lists: NFTA_LIST_ELEM after NFTA_LIST_ELEM). */
export function attributeList(bytes: Uint8Array, start = 0): { type: number; payload: Uint8Array }[] {
  const view = viewOf(bytes);
  const list: { type: number; payload: Uint8Array }[] = [];
  for (let at = start; at + 4 <= bytes.length; ) {
    const len = view.getUint16(at, true);
    if (len < 4 || at + len > bytes.length) break;
    list.push({ type: view.getUint16(at + 2, true) & NLA_TYPE_MASK, payload: bytes.subarray(at + 4, at + len) });
    at += align(len);
  }
  return list;
}

export function attrString(payload: Uint8Array): string {
  const end = payload.indexOf(0);
  return new TextDecoder().decode(end < 0 ? payload : payload.subarray(0, end));
}

export function attrU32(payload: Uint8Array): number {
  return viewOf(payload).getUint32(0, true);
}

/** A request the kernel refused: "create bridge cbox0: file exists (EEXIST)", then its reason if it gave one. */
export class NetlinkError extends CboxError {
  /** The errno's name, e.g. "EEXIST". */
  readonly code: string;

  constructor(
    readonly what: string,
    /** Positive. */
    readonly errno: number,
    readonly kernelText?: string,
  ) {
    const code = errnoName(errno);
    super(`${what}: ${describeErrno(errno)} (${code})${kernelText ? `: ${kernelText}` : ""}`);
    this.code = code;
  }
}

/** How a NetlinkSocket reaches the kernel; like the C shim, each returns n or -errno. */
export interface NetlinkTransport {
  send(msg: Uint8Array): number;
  /** dontWait: what is queued already, -EAGAIN when nothing is. */
  receive(into: Uint8Array, dontWait?: boolean): number;
  /** inChild: the last close is a short-lived child's (NetlinkSocket.closeInChild). */
  close(inChild?: boolean): void;
}

/** What the kernel said to one request of a batch: errno 0 is done. */
export interface BatchReply {
  errno: number;
  text?: string;
}

export class NetlinkSocket {
  private seq = 0;
  private readonly received = new Uint8Array(RECEIVE_SIZE);

  constructor(private readonly transport: NetlinkTransport) {}

  /** A netlink socket (NETLINK_ROUTE unless told) in the network namespace open at nsFd, else in this thread's. */
  static open(nsFd?: number, protocol = NETLINK_ROUTE): NetlinkSocket {
    const net = netShim();
    const fd = net.cbox_netlink_open(nsFd ?? -1, protocol);
    if (fd < 0) throw new NetlinkError("open a netlink socket", -fd);
    return new NetlinkSocket({
      send: (msg) => net.cbox_send(fd, msg, msg.length),
      receive: (into, dontWait) => (dontWait ? net.cbox_recv_nowait(fd, into, into.length) : net.cbox_recv(fd, into, into.length)),
      // A child that cannot be made leaves fd open: then it is closed here (and waited for).
      close: (inChild) => {
        if (!inChild || net.cbox_close_in_child(fd) < 0) closeSync(fd);
      },
    });
  }

  /** The replies before the ACK (a get has one); throws NetlinkError when the kernel refuses. */
  request(req: NetlinkRequest): Uint8Array[] {
    return this.exchange({ ...req, flags: req.flags | NLM_F_REQUEST | NLM_F_ACK }, false);
  }

  /** Every message of a dump, up to NLMSG_DONE. */
  dump(req: NetlinkRequest): Uint8Array[] {
    return this.exchange({ ...req, flags: req.flags | NLM_F_REQUEST | NLM_F_DUMP }, true);
  }

  /**
   * Requests sent together in one datagram, as they are (flags included): nfnetlink applies such a
   * batch in the sending call, so every reply is queued when send returns and none is waited for.
   * The reply to each request, in order (undefined: none came; a request without NLM_F_ACK gets
   * one only when it fails).
   */
  batch(reqs: NetlinkRequest[]): (BatchReply | undefined)[] {
    const first = this.seq + 1;
    const msgs = reqs.map((req) => encodeMessage(req, ++this.seq));
    const datagram = new Uint8Array(msgs.reduce((n, m) => n + m.length, 0));
    let at = 0;
    for (const m of msgs) {
      datagram.set(m, at);
      at += m.length;
    }
    const what = reqs.map((r) => r.what).join(", ");
    const sent = this.transport.send(datagram);
    if (sent < 0) throw new NetlinkError(`${what}: send`, -sent);
    const replies: (BatchReply | undefined)[] = reqs.map(() => undefined);
    for (;;) {
      const n = this.transport.receive(this.received, true);
      if (n === -EAGAIN) return replies;
      if (n < 0) throw new NetlinkError(`${what}: receive`, -n);
      for (const m of splitMessages(this.received.subarray(0, n))) {
        const i = m.seq - first;
        if (m.type === NLMSG_ERROR && i >= 0 && i < reqs.length) replies[i] = parseError(m);
      }
    }
  }

  close(): void {
    this.transport.close();
  }

  /**
   * Closes the socket without waiting for what the kernel does when it is released: a child that
   * shares this process's memory makes the last close and waits for that, and nobody waits for
   * the child (cbox_close_in_child in src/sys/c/net.c).
   */
  closeInChild(): void {
    this.transport.close(true);
  }

  private exchange(req: NetlinkRequest, isDump: boolean): Uint8Array[] {
    const seq = ++this.seq;
    const msg = encodeMessage(req, seq);
    const sent = this.transport.send(msg);
    if (sent < 0) throw new NetlinkError(`${req.what}: send`, -sent);
    const replies: Uint8Array[] = [];
    for (;;) {
      const n = this.transport.receive(this.received);
      if (n < 0) throw new NetlinkError(`${req.what}: receive`, -n);
      // Replies to an earlier request that threw before reading them all are skipped by seq.
      for (const m of splitMessages(this.received.subarray(0, n))) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          const { errno, text } = parseError(m);
          if (errno) throw new NetlinkError(req.what, errno, text);
          if (!isDump) return replies;
        } else if (m.type === NLMSG_DONE && isDump) {
          // A dump that fails part-way ends with DONE carrying -errno.
          const errno = m.bytes.length >= NLMSG_HDRLEN + 4 ? -viewOf(m.bytes).getInt32(NLMSG_HDRLEN, true) : 0;
          if (errno > 0) throw new NetlinkError(req.what, errno);
          return replies;
        } else {
          replies.push(m.bytes);
        }
      }
    }
  }
}

function align(n: number): number {
  return (n + 3) & ~3;
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
