// nf_tables over NETLINK_NETFILTER, the part cbox uses: reading chains, rules and map elements,
// and adding or deleting map elements in a batch (atomic, like one `nft -f`). Each *Message
// function builds a request without sending it, so the bytes can be checked without a socket; the
// parse* functions read the kernel's replies. What cbox checks with them is in nft-state.ts.
import { attrString, attributeList, CHANGE_FLAGS, DUMP_FLAGS, MessageWriter, NLMSG_HDRLEN, parseAttributes, type NetlinkRequest } from "../netlink.ts";

/** The kernel's numbers, under the names linux/netfilter/nf_tables.h and nfnetlink.h give them. */
export const NFT = {
  NFNL_SUBSYS_NFTABLES: 10,
  NFNL_MSG_BATCH_BEGIN: 0x10,
  NFNL_MSG_BATCH_END: 0x11,
  NFPROTO_IPV4: 2,
  NFT_MSG_GETCHAIN: 4,
  NFT_MSG_GETRULE: 7,
  NFT_MSG_NEWSETELEM: 12,
  NFT_MSG_GETSETELEM: 13,
  NFT_MSG_DELSETELEM: 14,
  NFTA_CHAIN_TABLE: 1,
  NFTA_CHAIN_NAME: 3,
  NFTA_CHAIN_POLICY: 5,
  NFTA_RULE_TABLE: 1,
  NFTA_RULE_CHAIN: 2,
  NFTA_RULE_EXPRESSIONS: 4,
  NFTA_RULE_USERDATA: 7,
  NFTA_LIST_ELEM: 1,
  NFTA_EXPR_NAME: 1,
  NFTA_EXPR_DATA: 2,
  NFTA_META_KEY: 2,
  NFT_META_IIFNAME: 6,
  NFT_META_OIFNAME: 7,
  NFTA_CMP_OP: 2,
  NFTA_CMP_DATA: 3,
  NFT_CMP_EQ: 0,
  NFT_CMP_NEQ: 1,
  NFTA_IMMEDIATE_DATA: 2,
  NFTA_DATA_VALUE: 1,
  NFTA_DATA_VERDICT: 2,
  NFTA_VERDICT_CODE: 1,
  NFTA_VERDICT_CHAIN: 2,
  NF_DROP: 0,
  NF_ACCEPT: 1,
  NFT_JUMP: -3,
  NFT_GOTO: -4,
  NFT_RETURN: -5,
  NFTA_MATCH_NAME: 1,
  NFTA_SET_ELEM_LIST_TABLE: 1,
  NFTA_SET_ELEM_LIST_SET: 2,
  NFTA_SET_ELEM_LIST_ELEMENTS: 3,
  NFTA_SET_ELEM_KEY: 1,
  NFTA_SET_ELEM_DATA: 2,
  NFTA_SET_ELEM_USERDATA: 6,
} as const;

// Not the kernel's: libnftnl's tags inside a rule's or an element's userdata (nft writes them).
const UDATA_COMMENT = 0;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

const msgType = (msg: number) => (NFT.NFNL_SUBSYS_NFTABLES << 8) | msg;

/** struct nfgenmsg { u8 family; u8 version (NFNETLINK_V0); be16 res_id; } */
function nfgenmsg(w: MessageWriter, family: number, resId = 0): MessageWriter {
  return w.u8(family).u8(0).u8(resId >> 8).u8(resId & 0xff);
}

/** One chain of an ip table: its policy tells whether iptables-nft's FORWARD drops. */
export function getChainMessage(table: string, chain: string): NetlinkRequest {
  const w = nfgenmsg(new MessageWriter(), NFT.NFPROTO_IPV4).stringAttr(NFT.NFTA_CHAIN_TABLE, table).stringAttr(NFT.NFTA_CHAIN_NAME, chain);
  return { what: `get chain ip ${table} ${chain}`, type: msgType(NFT.NFT_MSG_GETCHAIN), flags: CHANGE_FLAGS, body: w.finish() };
}

/** Every rule of an ip table, or of one of its chains. */
export function dumpRulesMessage(table: string, chain?: string): NetlinkRequest {
  const w = nfgenmsg(new MessageWriter(), NFT.NFPROTO_IPV4).stringAttr(NFT.NFTA_RULE_TABLE, table);
  if (chain !== undefined) w.stringAttr(NFT.NFTA_RULE_CHAIN, chain);
  return { what: `list the rules of ip ${table}${chain ? ` ${chain}` : ""}`, type: msgType(NFT.NFT_MSG_GETRULE), flags: DUMP_FLAGS, body: w.finish() };
}

/** Every element of a set or map of an ip table. */
export function dumpElementsMessage(table: string, set: string): NetlinkRequest {
  const w = nfgenmsg(new MessageWriter(), NFT.NFPROTO_IPV4).stringAttr(NFT.NFTA_SET_ELEM_LIST_TABLE, table).stringAttr(NFT.NFTA_SET_ELEM_LIST_SET, set);
  return { what: `list the elements of ip ${table} ${set}`, type: msgType(NFT.NFT_MSG_GETSETELEM), flags: DUMP_FLAGS, body: w.finish() };
}

/** A map element as the kernel holds it: key and value in nft's registers' layout, and its comment. */
export interface SetElement {
  key: Uint8Array;
  data?: Uint8Array;
  comment?: string;
}

/**
 * `create element` (EEXIST when the key is taken, which is the conflict check) or `delete element`
 * (by key), as nft sends them, with NLM_F_ACK so that each gets its own answer inside a batch.
 */
export function elementMessage(verb: "create" | "delete", table: string, set: string, el: SetElement, what: string): NetlinkRequest {
  const w = nfgenmsg(new MessageWriter(), NFT.NFPROTO_IPV4).stringAttr(NFT.NFTA_SET_ELEM_LIST_TABLE, table).stringAttr(NFT.NFTA_SET_ELEM_LIST_SET, set);
  w.nested(NFT.NFTA_SET_ELEM_LIST_ELEMENTS, () =>
    w.nested(NFT.NFTA_LIST_ELEM, () => {
      w.nested(NFT.NFTA_SET_ELEM_KEY, () => w.attr(NFT.NFTA_DATA_VALUE, el.key));
      if (verb === "delete") return;
      if (el.data) w.nested(NFT.NFTA_SET_ELEM_DATA, () => w.attr(NFT.NFTA_DATA_VALUE, el.data!));
      if (el.comment !== undefined) w.attr(NFT.NFTA_SET_ELEM_USERDATA, commentUserdata(el.comment));
    }),
  );
  const flags = NLM_F_REQUEST | NLM_F_ACK | (verb === "create" ? NLM_F_CREATE | NLM_F_EXCL : 0);
  const type = msgType(verb === "create" ? NFT.NFT_MSG_NEWSETELEM : NFT.NFT_MSG_DELSETELEM);
  return { what, type, flags, body: w.finish() };
}

/** The requests wrapped in nfnetlink's batch begin and end: the kernel applies all of them or none. */
export function batchMessages(reqs: NetlinkRequest[]): NetlinkRequest[] {
  const mark = (type: number, what: string): NetlinkRequest => ({ what, type, flags: NLM_F_REQUEST, body: nfgenmsg(new MessageWriter(), 0, NFT.NFNL_SUBSYS_NFTABLES).finish() });
  return [mark(NFT.NFNL_MSG_BATCH_BEGIN, "begin a batch"), ...reqs, mark(NFT.NFNL_MSG_BATCH_END, "end a batch")];
}

/** libnftnl's userdata with one comment: tag, length (the NUL included), text, NUL. */
export function commentUserdata(comment: string): Uint8Array {
  const text = new TextEncoder().encode(comment);
  if (text.length > 127) throw new Error(`an nft comment is 127 bytes at most: "${comment}"`);
  return new Uint8Array([UDATA_COMMENT, text.length + 1, ...text, 0]);
}

/** The comment in libnftnl userdata, if it has one. */
export function userdataComment(udata: Uint8Array | undefined): string | undefined {
  for (let at = 0; udata && at + 2 <= udata.length; at += 2 + udata[at + 1]!) {
    if (udata[at] === UDATA_COMMENT) return attrString(udata.subarray(at + 2, at + 2 + udata[at + 1]!));
  }
  return undefined;
}

const body = (msg: Uint8Array) => parseAttributes(msg, NLMSG_HDRLEN + 4);
const be32 = (b: Uint8Array | undefined) => (b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getInt32(0, false) : undefined);

/** A chain's policy: "accept", "drop", or undefined for a chain without a hook (a user's chain). */
export function parseChainPolicy(msg: Uint8Array): "accept" | "drop" | undefined {
  const policy = be32(body(msg).get(NFT.NFTA_CHAIN_POLICY));
  if (policy === NFT.NF_ACCEPT) return "accept";
  if (policy === NFT.NF_DROP) return "drop";
  return undefined;
}

/** A rule: where it is, its comment, and its expressions as short texts (see describeExpression). */
export interface NftRule {
  table: string;
  chain: string;
  comment?: string;
  exprs: string[];
}

/** withExpressions false: chain and comment only (exprs []), for a check that needs no more. */
export function parseRule(msg: Uint8Array, withExpressions = true): NftRule {
  const attrs = body(msg);
  const list = withExpressions ? attrs.get(NFT.NFTA_RULE_EXPRESSIONS) : undefined;
  const exprs = list ? attributeList(list).filter((a) => a.type === NFT.NFTA_LIST_ELEM).map((a) => describeExpression(a.payload)) : [];
  const comment = userdataComment(attrs.get(NFT.NFTA_RULE_USERDATA));
  const name = (type: number) => attrString(attrs.get(type) ?? new Uint8Array());
  return { table: name(NFT.NFTA_RULE_TABLE), chain: name(NFT.NFTA_RULE_CHAIN), ...(comment !== undefined && { comment }), exprs };
}

/**
 * One expression as text, detailed where cbox looks: "meta iifname", "cmp eq cbox0" (a name's
 * bytes up to its NUL; "cmp eq cbox0*" when the data has none, i.e. iptables' "cbox0+"),
 * "immediate accept", "immediate jump CBOX-FORWARD", "match conntrack"; others by name only.
 */
export function describeExpression(elem: Uint8Array): string {
  const attrs = parseAttributes(elem, 0);
  const name = attrString(attrs.get(NFT.NFTA_EXPR_NAME) ?? new Uint8Array());
  const data = parseAttributes(attrs.get(NFT.NFTA_EXPR_DATA) ?? new Uint8Array(), 0);
  if (name === "meta") {
    const key = be32(data.get(NFT.NFTA_META_KEY));
    return key === NFT.NFT_META_IIFNAME ? "meta iifname" : key === NFT.NFT_META_OIFNAME ? "meta oifname" : `meta ${key}`;
  }
  if (name === "cmp") {
    const op = be32(data.get(NFT.NFTA_CMP_OP));
    const value = parseAttributes(data.get(NFT.NFTA_CMP_DATA) ?? new Uint8Array(), 0).get(NFT.NFTA_DATA_VALUE) ?? new Uint8Array();
    const end = value.indexOf(0);
    const text = new TextDecoder().decode(end < 0 ? value : value.subarray(0, end));
    return `cmp ${op === NFT.NFT_CMP_EQ ? "eq" : op === NFT.NFT_CMP_NEQ ? "neq" : op} ${text}${end < 0 ? "*" : ""}`;
  }
  if (name === "immediate") {
    const verdict = parseAttributes(parseAttributes(data.get(NFT.NFTA_IMMEDIATE_DATA) ?? new Uint8Array(), 0).get(NFT.NFTA_DATA_VERDICT) ?? new Uint8Array(), 0);
    const code = be32(verdict.get(NFT.NFTA_VERDICT_CODE));
    const chain = verdict.get(NFT.NFTA_VERDICT_CHAIN);
    const names: Record<number, string> = { [NFT.NF_ACCEPT]: "accept", [NFT.NF_DROP]: "drop", [NFT.NFT_JUMP]: "jump", [NFT.NFT_GOTO]: "goto", [NFT.NFT_RETURN]: "return" };
    if (code === undefined) return "immediate";
    return `immediate ${names[code] ?? code}${chain ? ` ${attrString(chain)}` : ""}`;
  }
  if (name === "match") return `match ${attrString(data.get(NFT.NFTA_MATCH_NAME) ?? new Uint8Array())}`;
  return name;
}

/** An element of a set-element dump: each message holds a list of them. */
export function parseElements(msg: Uint8Array): SetElement[] {
  const list = body(msg).get(NFT.NFTA_SET_ELEM_LIST_ELEMENTS);
  if (!list) return [];
  return attributeList(list)
    .filter((a) => a.type === NFT.NFTA_LIST_ELEM)
    .map((a) => {
      const attrs = parseAttributes(a.payload, 0);
      const value = (type: number) => {
        const nested = attrs.get(type);
        return nested ? parseAttributes(nested, 0).get(NFT.NFTA_DATA_VALUE)?.slice() : undefined;
      };
      const comment = userdataComment(attrs.get(NFT.NFTA_SET_ELEM_USERDATA));
      return { key: value(NFT.NFTA_SET_ELEM_KEY) ?? new Uint8Array(), ...(value(NFT.NFTA_SET_ELEM_DATA) && { data: value(NFT.NFTA_SET_ELEM_DATA) }), ...(comment !== undefined && { comment }) };
    });
}
