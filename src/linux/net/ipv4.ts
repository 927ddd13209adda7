// IPv4 addresses and subnets as numbers (unsigned 32-bit), parsed strictly.

/** An address and prefix length, e.g. 10.88.0.0/16; addr is the address as written. */
export interface Cidr {
  addr: number;
  prefix: number;
}

/** The address as a number, or undefined when it is not a dotted quad. */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIpv4(addr: number): string {
  return [addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255].join(".");
}

/** The 4 bytes in network order, as netlink and the kernel want them. */
export function ipv4Bytes(text: string): Uint8Array {
  const addr = parseIpv4(text);
  if (addr === undefined) throw new Error(`not an IPv4 address: ${text}`);
  return new Uint8Array([addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255]);
}

export function parseCidr(text: string): Cidr | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const addr = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (addr === undefined || prefix > 32) return undefined;
  return { addr, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.addr)}/${cidr.prefix}`;
}

export function netmask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The subnet's first address (host bits cleared). */
export function networkOf(cidr: Cidr): number {
  return (cidr.addr & netmask(cidr.prefix)) >>> 0;
}

/** The subnet an address lies in, as text: 10.88.0.7/16 -> "10.88.0.0/16". */
export function subnetText(cidr: Cidr): string {
  return formatCidr({ addr: networkOf(cidr), prefix: cidr.prefix });
}

export function broadcastOf(cidr: Cidr): number {
  return (networkOf(cidr) | ~netmask(cidr.prefix)) >>> 0;
}

export function contains(cidr: Cidr, addr: number): boolean {
  return ((addr & netmask(cidr.prefix)) >>> 0) === networkOf(cidr);
}

/** Two subnets overlap when one contains the other's first address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, networkOf(b)) || contains(b, networkOf(a));
}

/** Whether text is an IPv6 address (groups of 1-4 hex, one "::" at most, an IPv4 tail allowed). */
export function isIpv6(text: string): boolean {
  const tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail && parseIpv4(tail[2]!) === undefined) return false;
  const body = tail ? `${tail[1]}0:0` : text; // an IPv4 tail is two groups
  const halves = body.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === "" ? [] : h.split(":")));
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? groups.length <= 7 : groups.length === 8;
}

/** An IPv4 or IPv6 address (node:net's isIP costs milliseconds of start-up to load). */
export function isIpAddress(text: string): boolean {
  return parseIpv4(text) !== undefined || isIpv6(text);
}
