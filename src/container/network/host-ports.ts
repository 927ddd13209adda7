// Host ports for -p: the ones in use, asked of the kernel's socket tables over sock_diag (an
// explicit port: only the sockets that listen on it; a port to choose: every socket), or read
// from /proc/net on a kernel without inet_diag; free ones are chosen at random in the kernel's
// ephemeral range. A host process may still bind a chosen port before the container's rule is in
// place: there is no daemon to hold sockets, so that race is accepted.
import { readFileSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { formatIpv4 } from "../../linux/net/ipv4.ts";
import { ALL_STATES, DIAG, inetSockets, LISTENING } from "../../linux/net/sock-diag.ts";
import { NETLINK_SOCK_DIAG, NetlinkError, NetlinkSocket } from "../../linux/netlink.ts";
import type { PortSpec, Protocol } from "./spec.ts";

/** A socket of the host, as /proc/net/{tcp,udp}[6] lists it. */
export interface HostSocket {
  /** IPv4 dotted quad, or "::"/"::1"/"v6" for IPv6 (an IPv4-mapped IPv6 address is given as IPv4). */
  ip: string;
  port: number;
  /** tcp: in the LISTEN state; udp: every socket (a bound udp socket receives). */
  listening: boolean;
}

/** A host port cbox has published already (its firewall's entries). */
export interface TakenPort {
  hostIp: string;
  hostPort: number;
  proto: Protocol;
}

/** What the host has: its sockets per protocol and its ephemeral port range. */
export interface HostPorts {
  /** Every socket of proto; with port, at least the ones that listen on that port. */
  sockets(proto: Protocol, port?: number): HostSocket[];
  range: [number, number];
}

const TCP_LISTEN = 0x0a;
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The sockets in one /proc/net/{tcp,tcp6,udp,udp6} text. The kernel prints each 32-bit word of an
 * address as a native-endian hex number, so on x86 and arm64 127.0.0.1 is 0100007F.
 */
export function parseProcNet(text: string, proto: Protocol): HostSocket[] {
  const sockets: HostSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(fields[1]!);
    if (!m || !/^[0-9A-Fa-f]{2}$/.test(fields[3]!)) continue;
    const state = parseInt(fields[3]!, 16);
    sockets.push({ ip: procAddress(m[1]!), port: parseInt(m[2]!, 16), listening: proto === "udp" || state === TCP_LISTEN });
  }
  return sockets;
}

/** One word of /proc's hex as the 4 bytes in network order. */
function wordBytes(hex: string): number[] {
  const v = parseInt(hex, 16);
  const bytes = [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  return littleEndian ? bytes.reverse() : bytes;
}

function procAddress(hex: string): string {
  if (hex.length === 8) return addressText(wordBytes(hex));
  return addressText([0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8))));
}

/** An address's 4 or 16 bytes (network order) as HostSocket.ip gives it. */
function addressText(address: ArrayLike<number>): string {
  const bytes = Array.from(address);
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) return bytes.slice(12).join(".");
  if (bytes.every((b) => b === 0)) return "::";
  if (bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1) return "::1";
  return "v6";
}

/** ip_local_port_range's text: "32768\t60999". */
export function parsePortRange(text: string): [number, number] {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  const low = Number(m?.[1]);
  const high = Number(m?.[2]);
  if (!m || low < 1 || high > 65535 || low > high) throw new CboxError(`not a port range: "${text.trim()}"`);
  return [low, high];
}

/**
 * The host's sockets of proto, IPv4 and IPv6; with port, only the ones that listen on it (tcp:
 * LISTEN; udp: every one). Asked over sock_diag (diag: an open NETLINK_SOCK_DIAG socket, else one
 * is opened for the call); a family the kernel cannot list that way is read from /proc/net (a
 * file the kernel lacks, as without IPv6, is none).
 */
export function hostSockets(proto: Protocol, port?: number, diag?: NetlinkSocket): HostSocket[] {
  let own: NetlinkSocket | undefined;
  try {
    return [DIAG.AF_INET, DIAG.AF_INET6].flatMap((family) => {
      try {
        own = diag ?? own ?? NetlinkSocket.open(undefined, NETLINK_SOCK_DIAG);
        return diagSockets(own, family, proto, port);
      } catch (err) {
        if (!(err instanceof NetlinkError)) throw err;
        const found = procSockets(`/proc/net/${proto}${family === DIAG.AF_INET6 ? "6" : ""}`, proto);
        return port === undefined ? found : found.filter((s) => s.port === port && s.listening);
      }
    });
  } finally {
    if (own !== diag) own?.close();
  }
}

function diagSockets(sock: NetlinkSocket, family: number, proto: Protocol, port?: number): HostSocket[] {
  const protocol = proto === "tcp" ? DIAG.IPPROTO_TCP : DIAG.IPPROTO_UDP;
  const states = port !== undefined && proto === "tcp" ? LISTENING : ALL_STATES;
  return inetSockets(sock, family, protocol, states, port).map((s) => ({ ip: addressText(s.address), port: s.port, listening: proto === "udp" || s.state === DIAG.TCP_LISTEN }));
}

function procSockets(path: string, proto: Protocol): HostSocket[] {
  try {
    return parseProcNet(readFileSync(path, "utf8"), proto);
  } catch {
    return [];
  }
}

/** Every local port in use for proto, in any state. */
export function portsInUse(proto: Protocol): Set<number> {
  return new Set(hostSockets(proto).map((s) => s.port));
}

/** The kernel's ephemeral port range (where docker chooses free host ports too). */
export function ephemeralRange(): [number, number] {
  try {
    return parsePortRange(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8"));
  } catch {
    return [32768, 60999];
  }
}

/**
 * ports with every hostPort 0 replaced by a free one; an explicit port that a host socket listens
 * on, or that cbox published already, is refused. taken: what cbox has published.
 */
export function choosePorts(ports: PortSpec[], taken: TakenPort[]): PortSpec[] {
  if (ports.length === 0) return [];
  const cache = new Map<string, HostSocket[]>();
  let diag: NetlinkSocket | undefined;
  // One socket for every question; none that can be opened: each is answered from /proc/net.
  const open = () => {
    try {
      return (diag ??= NetlinkSocket.open(undefined, NETLINK_SOCK_DIAG));
    } catch (err) {
      if (err instanceof NetlinkError) return undefined;
      throw err;
    }
  };
  const host: HostPorts = {
    sockets: (proto, port) => {
      const key = `${proto}:${port ?? "all"}`;
      return cache.get(key) ?? cache.set(key, hostSockets(proto, port, open())).get(key)!;
    },
    range: ports.some((p) => p.hostPort === 0) ? ephemeralRange() : [0, 0],
  };
  try {
    return choosePortsOn(host, ports, taken);
  } finally {
    diag?.close();
  }
}

/** choosePorts on given host facts; random() in [0, 1) picks where the search for a free port starts. */
export function choosePortsOn(host: HostPorts, ports: PortSpec[], taken: TakenPort[], random: () => number = Math.random): PortSpec[] {
  for (const p of ports) {
    if (p.hostPort === 0) continue;
    const name = `port ${p.hostIp ? `${p.hostIp}:` : ""}${p.hostPort}/${p.proto}`;
    if (taken.some((t) => t.proto === p.proto && t.hostPort === p.hostPort && addressesOverlap(t.hostIp, p.hostIp))) {
      throw new CboxError(`${name} is already published by another container`);
    }
    if (host.sockets(p.proto, p.hostPort).some((s) => s.listening && s.port === p.hostPort && listenerConflicts(s.ip, p.hostIp))) {
      throw new CboxError(`${name} is in use on the host`);
    }
  }
  // A chosen port is free on every address, whatever address it is published on.
  const used = { tcp: new Set<number>(), udp: new Set<number>() };
  for (const p of ports) if (p.hostPort !== 0) used[p.proto].add(p.hostPort);
  for (const t of taken) used[t.proto].add(t.hostPort);
  let scanned: Protocol[] = [];
  return ports.map((p) => {
    if (p.hostPort !== 0) return p;
    if (!scanned.includes(p.proto)) {
      for (const s of host.sockets(p.proto)) used[p.proto].add(s.port);
      scanned = [...scanned, p.proto];
    }
    const hostPort = freePort(host.range, used[p.proto], random);
    if (hostPort === undefined) throw new CboxError(`no free host port for ${p.containerPort}/${p.proto} in ${host.range[0]}-${host.range[1]}`);
    used[p.proto].add(hostPort);
    return { ...p, hostPort };
  });
}

/** The first port not in used, from a random start in the range, wrapping around. */
function freePort([low, high]: [number, number], used: Set<number>, random: () => number): number | undefined {
  const size = high - low + 1;
  const start = Math.min(size - 1, Math.floor(random() * size));
  for (let i = 0; i < size; i++) {
    const port = low + ((start + i) % size);
    if (!used.has(port)) return port;
  }
  return undefined;
}

/** Two published addresses that receive some packet in common ("" is every address). */
function addressesOverlap(a: string, b: string): boolean {
  return a === "" || b === "" || a === b;
}

/**
 * Whether a host listener on ip takes packets a port published on hostIp would redirect. On every
 * address, any listener does (docker binds both IPv4 and IPv6 there); on one IPv4 address, a
 * listener on it or on a wildcard (0.0.0.0, or :: which takes IPv4 too unless IPV6_V6ONLY).
 */
function listenerConflicts(ip: string, hostIp: string): boolean {
  if (hostIp === "") return true;
  return ip === hostIp || ip === formatIpv4(0) || ip === "::";
}
