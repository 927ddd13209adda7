// What both firewall drivers share: the data, its checks, finding a tool and running it.
import { realpathSync, statSync } from "node:fs";
import { CboxError, systemErrorText } from "../../errors.ts";
import { contains, parseCidr, parseIpv4, subnetText } from "../net/ipv4.ts";

export type Protocol = "tcp" | "udp";

/** One published port. hostIp "" is every address of the host. */
export interface PublishedPort {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  proto: Protocol;
}

/** The bridge the containers hang on and its subnet. */
export interface BridgeNetwork {
  bridge: string;
  subnet: string;
  /** Every network the base rules serve, this one among them (cbox0 and the named ones); absent: this one. */
  all?: { bridge: string; subnet: string }[];
}

/** A port as the firewall holds it: whose (the first 12 hex of the container id) and where to. */
export interface PublishedEntry extends PublishedPort {
  owner: string;
  containerIp: string;
}

/** A conflict, a refusal of the tool, or arguments that cannot be written into a rule. */
export class FirewallError extends CboxError {}

/** What running a tool gave. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv (argv[0] an absolute path), with stdin when given. The real one is Bun.spawnSync;
 * tests pass one that records calls, or one that enters a test's network namespace first.
 */
export type Runner = (argv: string[], stdin?: string) => ToolResult;

export const spawnRunner: Runner = (argv, stdin) => {
  let res;
  try {
    res = Bun.spawnSync(argv, { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  } catch (err) {
    throw new FirewallError(`${argv[0]}: ${systemErrorText(err)}`);
  }
  return { code: res.exitCode ?? 1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
};

/** The tag every entry carries: "cbox:" and the first 12 hex of the container id. */
export function ownerTag(owner: string): string {
  return `cbox:${shortOwner(owner)}`;
}

export function shortOwner(owner: string): string {
  if (!/^[0-9a-f]{12,64}$/.test(owner)) throw new FirewallError(`not a container id: "${owner}"`);
  return owner.slice(0, 12);
}

/** The bridge and subnet as rules take them: the subnet's network address, e.g. 10.88.0.0/16. */
export function checkNetwork(net: BridgeNetwork): { bridge: string; subnet: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(net.bridge)) throw new FirewallError(`not a bridge name: "${net.bridge}"`);
  const cidr = parseCidr(net.subnet);
  if (!cidr) throw new FirewallError(`not an IPv4 subnet: "${net.subnet}"`);
  return { bridge: net.bridge, subnet: subnetText(cidr) };
}

/** The networks the base rules serve: checked, one per bridge, in the bridges' order (so any of them gives the same base). */
export function servedNetworks(net: BridgeNetwork): { bridge: string; subnet: string }[] {
  const byBridge = new Map([net, ...(net.all ?? [])].map(checkNetwork).map((n) => [n.bridge, n]));
  return [...byBridge.values()].sort((a, b) => (a.bridge < b.bridge ? -1 : a.bridge > b.bridge ? 1 : 0));
}

/**
 * The ports as the drivers write them, checked: hostIp "0.0.0.0" becomes "" (every address), the
 * container's address must be in the subnet, and no host address/port/protocol may come twice.
 */
export function checkPorts(net: BridgeNetwork, containerIp: string, ports: PublishedPort[]): PublishedPort[] {
  const { subnet } = checkNetwork(net);
  const ip = parseIpv4(containerIp);
  if (ip === undefined || !contains(parseCidr(subnet)!, ip)) throw new FirewallError(`not an address in ${subnet}: "${containerIp}"`);
  const seen = new Set<string>();
  return ports.map((p) => {
    if (p.proto !== "tcp" && p.proto !== "udp") throw new FirewallError(`not a protocol: "${p.proto}" (tcp or udp)`);
    for (const n of [p.hostPort, p.containerPort]) {
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new FirewallError(`not a port: ${n}`);
    }
    const hostIp = p.hostIp === "0.0.0.0" ? "" : p.hostIp;
    if (hostIp !== "" && parseIpv4(hostIp) === undefined) throw new FirewallError(`not an IPv4 address: "${p.hostIp}"`);
    const port = { hostIp, hostPort: p.hostPort, containerPort: p.containerPort, proto: p.proto };
    if (seen.has(hostKey(port))) throw new FirewallError(`port ${hostKey(port)} is given twice`);
    seen.add(hostKey(port));
    return port;
  });
}

/** "0.0.0.0:8080/tcp", "127.0.0.1:8081/udp": what a port is known by on the host. */
export function hostKey(p: PublishedPort): string {
  return `${p.hostIp || "0.0.0.0"}:${p.hostPort}/${p.proto}`;
}

/** One entry as entriesOf() gives it: "0.0.0.0:8080/tcp -> 10.88.0.2:80". */
export function describeEntry(e: PublishedEntry): string {
  return `${hostKey(e)} -> ${e.containerIp}:${e.containerPort}`;
}

/** The entries of one container, as text (entriesOf of both drivers). */
export function describeOwned(entries: PublishedEntry[], owner: string): string[] {
  const short = shortOwner(owner);
  return entries.filter((e) => e.owner === short).map(describeEntry);
}

export function sameEntry(a: PublishedEntry, b: PublishedEntry): boolean {
  return describeEntry(a) === describeEntry(b) && a.owner === b.owner;
}

/**
 * Which of the ports to add, given what is published: a port published already with the same
 * owner and target is left as it is (a second start of the same record), one held by anything
 * else is a FirewallError naming it.
 */
export function portsToAdd(existing: PublishedEntry[], owner: string, containerIp: string, ports: PublishedPort[]): PublishedPort[] {
  const held = new Map(existing.map((e) => [hostKey(e), e]));
  const add: PublishedPort[] = [];
  for (const p of ports) {
    const other = held.get(hostKey(p));
    if (!other) add.push(p);
    else if (!sameEntry(other, { ...p, owner: shortOwner(owner), containerIp })) throw conflict(p, other);
  }
  return add;
}

export function conflict(p: PublishedPort, holder: PublishedEntry | undefined): FirewallError {
  const by = holder?.owner ? `container ${holder.owner}` : "another rule in cbox's table";
  return new FirewallError(`port ${hostKey(p)} is already published by ${by}`);
}

/** The entries of an owner that match these ports by host address, port and protocol. */
export function ownedMatches<E extends PublishedEntry>(existing: E[], owner: string, ports: PublishedPort[]): E[] {
  const short = shortOwner(owner);
  const keys = new Set(ports.map(hostKey));
  return existing.filter((e) => e.owner === short && keys.has(hostKey(e)));
}

/** The first line of a tool's complaint worth showing, without nft's or iptables' noise. */
export function toolMessage(tool: string, res: ToolResult, stdin?: string): string {
  const lines = res.stderr.split("\n").map((l) => l.trim());
  let line = lines.find((l) => l && !l.startsWith("Try `") && !l.startsWith("#")) ?? `exit code ${res.code}`;
  // iptables-restore: "iptables-restore: line 2 failed": show that line of the input.
  const n = /\bline (\d+) failed/.exec(line)?.[1];
  const input = n && stdin ? stdin.split("\n")[Number(n) - 1] : undefined;
  if (input) line += ` (${input})`;
  return line.startsWith(`${tool.split("-")[0]}`) ? line : `${tool}: ${line}`;
}

/** Where root's tools live even when PATH leaves them out. */
const extraDirs = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** An executable named name in PATH (then the sbin folders), or undefined. */
export function findBinary(name: string, env: Record<string, string | undefined>): string | undefined {
  const dirs = [...(env.PATH ?? "").split(":").filter((d) => d.startsWith("/")), ...extraDirs];
  for (const dir of dirs) {
    const path = `${dir}/${name}`;
    // throwIfNoEntry: a missing file is the common case, and an exception costs ~15 µs (every bridge start looks)
    let st;
    try {
      st = statSync(path, { throwIfNoEntry: false });
    } catch {
      continue; // not a folder, or not ours to read: the next one
    }
    if (st?.isFile() && (st.mode & 0o111) !== 0) return path;
  }
  return undefined;
}

/** "legacy" or "nft" for an iptables binary (from the multi-call binary it links to), else undefined. */
export function iptablesBackend(binary: string): "legacy" | "nft" | undefined {
  let real: string;
  try {
    real = realpathSync(binary);
  } catch {
    return undefined;
  }
  const name = real.slice(real.lastIndexOf("/") + 1);
  if (name.includes("legacy")) return "legacy";
  if (name.includes("nft")) return "nft";
  return undefined;
}
