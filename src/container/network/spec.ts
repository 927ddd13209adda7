// --network and -p as docker takes them, checked and turned into plain data (no system calls).
import { CboxError } from "../../errors.ts";
import type { Protocol, PublishedPort } from "../../linux/firewall/index.ts";
import { parseIpv4 } from "../../linux/net/ipv4.ts";

/** container: another container's network namespace (--network container:NAME). */
export type NetworkMode = "none" | "host" | "bridge" | "container";
export type { Protocol };

/** One -p value: what the firewall publishes, with hostPort 0 for a free one chosen at start. */
export type PortSpec = PublishedPort;

export interface NetworkSpec {
  mode: NetworkMode;
  ports: PortSpec[];
  /** container: the container given (a name or id; its id once resolved). */
  container?: string;
  /** bridge: a named network (cbox network create) instead of cbox0, and the container's aliases on it. */
  network?: string;
  aliases?: string[];
}

/** docker's words for what -p does with --network host (it prints them as a warning too). */
export const HOST_PORTS_DISCARDED = "published ports are discarded when using host network mode";

const USAGE = "expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]";

/**
 * --network (undefined or "" or "default": bridge; for a user the caller makes that slirp4netns)
 * and the -p values. With host, -p is dropped with a warning (docker); with none it is refused
 * (docker ignores it without a word). A free host port is chosen later (hostPort 0).
 */
export function parseNetwork(mode: string | undefined, publish: string[], aliases: string[] = []): { spec: NetworkSpec; warning?: string } {
  const networkMode = parseMode(mode);
  const ports = publish.map(parsePort);
  checkOverlaps(ports, publish);
  const named = networkMode === "bridge" && mode !== undefined && !["", "default", "bridge"].includes(mode) ? mode : undefined;
  if (aliases.length > 0 && !named) throw new CboxError(`--network-alias ${aliases[0]}: aliases are for named networks (cbox network create NAME, then --network NAME)`);
  for (const alias of aliases) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/.test(alias)) throw new CboxError(`--network-alias ${JSON.stringify(alias)}: not a valid host name (letters, digits, '.', '-')`);
  }
  if (named) return { spec: { mode: "bridge", ports, network: named, ...(aliases.length && { aliases }) } };
  const joined = /^container:(.+)$/.exec(mode ?? "")?.[1];
  if (joined !== undefined) {
    if (ports.length > 0) throw new CboxError(`-p "${publish[0]}": a container on another container's network (--network ${mode}) publishes nothing of its own; publish on that container`);
    return { spec: { mode: "container", ports: [], container: joined } };
  }
  if (networkMode === "host" && ports.length > 0) return { spec: { mode: "host", ports: [] }, warning: HOST_PORTS_DISCARDED };
  if (networkMode === "none" && ports.length > 0) {
    throw new CboxError(`-p "${publish[0]}": a container with --network none has no network to publish ports from`);
  }
  return { spec: { mode: networkMode, ports } };
}

function parseMode(mode: string | undefined): NetworkMode {
  if (mode === undefined || mode === "" || mode === "default" || mode === "bridge") return "bridge";
  if (mode === "none" || mode === "host") return mode;
  if (/^container:./.test(mode)) return "container";
  if (/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(mode)) return "bridge"; // a named network, looked up at start
  throw new CboxError(`--network "${mode}": expected none, host, bridge, container:NAME or a network's name`);
}

/** One -p value: docker's HOST_PORT:CONTAINER_PORT[/proto], IP:HOST_PORT:CONTAINER_PORT, IP::CONTAINER_PORT, CONTAINER_PORT[/proto]. */
export function parsePort(value: string): PortSpec {
  const bad = (why: string) => new CboxError(`-p "${value}": ${why}`);
  if (value.includes("[") || value.split(":").length > 3) throw bad("IPv6 host addresses are not supported (cbox publishes on IPv4 only)");
  const slash = value.lastIndexOf("/");
  const body = slash < 0 ? value : value.slice(0, slash);
  const proto = slash < 0 ? "tcp" : value.slice(slash + 1).toLowerCase();
  if (proto !== "tcp" && proto !== "udp") throw bad(`protocol "${value.slice(slash + 1)}": expected tcp or udp`);
  const parts = body.split(":");
  const [ipText, hostText, containerText] = parts.length === 3 ? parts : parts.length === 2 ? ["", parts[0]!, parts[1]!] : ["", "", parts[0]!];
  if (parts.length === 2 && parseIpv4(hostText!) !== undefined) throw bad(`"${hostText}" is an address, not a port: ${USAGE}`);
  let hostIp = "";
  if (ipText) {
    if (parseIpv4(ipText) === undefined) throw bad(`not an IPv4 address: "${ipText}"`);
    // 0.0.0.0 is every address, as no address is: one spelling, so rules and conflicts compare.
    hostIp = ipText === "0.0.0.0" ? "" : ipText;
  }
  const containerPort = portNumber(containerText!, "container port", bad);
  const hostPort = hostText === "" ? 0 : portNumber(hostText!, "host port", bad);
  return { hostIp, hostPort, containerPort, proto };
}

function portNumber(text: string, what: string, bad: (why: string) => CboxError): number {
  if (text === "") throw bad(`no ${what}: ${USAGE}`);
  if (/^\d+-\d+$/.test(text)) throw bad("port ranges are not supported; give one -p per port");
  if (!/^\d{1,5}$/.test(text)) throw bad(`not a ${what}: "${text}"`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw bad(`${what} ${port} is out of range (1-65535)`);
  return port;
}

/** Two -p that would take the same host port: one on every address and one on a given address conflict too. */
function checkOverlaps(ports: PortSpec[], values: string[]): void {
  for (let i = 0; i < ports.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = ports[i]!;
      const b = ports[j]!;
      if (a.hostPort === 0 || a.hostPort !== b.hostPort || a.proto !== b.proto) continue;
      if (a.hostIp === b.hostIp || a.hostIp === "" || b.hostIp === "") {
        throw new CboxError(`-p "${values[i]}": host port ${a.hostPort}/${a.proto} is already published by -p "${values[j]}"`);
      }
    }
  }
}
