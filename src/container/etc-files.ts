// The files cbox generates for a container and binds over the image's /etc copies (as docker does).
// The functions that decide take the host's files as text; writeEtcFiles reads the real ones.
import { readFileSync, writeFileSync } from "node:fs";
import { CboxError } from "../errors.ts";
import type { ContainerDirs } from "./plan.ts";

/** What the container's network gives /etc/hosts and /etc/resolv.conf. */
export interface EtcNetwork {
  /** Its address on the bridge: a hosts line for it, and the host's real upstream name servers. */
  ip?: string;
  /** Name servers to use instead of the host's (slirp4netns: 10.0.2.3). */
  nameservers?: string[];
  /** --network host: the host's /etc/hosts and /etc/resolv.conf as they are. */
  hostFiles?: boolean;
  /** The host as the container reaches it: what --add-host NAME:host-gateway names. */
  gateway?: string;
}

/** --add-host and the --dns flags: what the user adds to the files. */
export interface EtcExtras {
  /** NAME and IP (or "host-gateway"), a hosts line each. */
  hosts?: { name: string; ip: string }[];
  dns?: DnsOptions;
}

/** --dns, --dns-search, --dns-option: each, when given, replaces what the host's file says. */
export interface DnsOptions {
  servers?: string[];
  search?: string[];
  options?: string[];
}

export const HOST_GATEWAY = "host-gateway";

/** The host's resolver files as text; systemd is undefined when /run/systemd/resolve/resolv.conf does not exist. */
export interface HostResolv {
  etc: string;
  systemd?: string;
}

/** The three files' contents, and whether the resolver was left without a name server. */
export interface EtcFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
  noNameservers: boolean;
}

/** What the caller prints when noNameservers is set. */
export const NO_NAMESERVERS_WARNING =
  "the host has no name server a container can reach (only loopback ones): the container's /etc/resolv.conf lists none";

const SYSTEMD_RESOLV = "/run/systemd/resolve/resolv.conf";

/**
 * docker's layout. Without ip the hostname goes on the 127.0.0.1 line; with one it goes on the
 * address's own line at the end (with the container's name after it when it has one).
 */
export function hostsFile(hostname: string, ip?: string, name?: string): string {
  const lines = [
    ip ? "127.0.0.1\tlocalhost" : `127.0.0.1\tlocalhost ${hostname}`,
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
  ];
  if (ip) lines.push(`${ip}\t${hostname}${name && name !== hostname ? ` ${name}` : ""}`);
  return [...lines, ""].join("\n");
}

function nameserverOf(line: string): string | undefined {
  return /^\s*nameserver\s+(\S+)/.exec(line)?.[1];
}

function isLoopback(server: string): boolean {
  return /^127\./.test(server) || /^(::1|(0{1,4}:){7}0{0,3}1)$/i.test(server);
}

/** The name servers a resolv.conf text lists. */
export function nameservers(text: string): string[] {
  return text.split("\n").flatMap((line) => nameserverOf(line) ?? []);
}

/**
 * The host's resolver config without loopback name servers: the container has its own network
 * namespace, so 127.0.0.53 and friends would point at nothing there.
 */
export function resolvConf(hostText: string): string {
  return rewriteNameservers(hostText, (server) => !isLoopback(server));
}

/** text with the name servers keep refuses dropped; extra ones take the place of the first name server line. */
function rewriteNameservers(text: string, keep: (server: string) => boolean, extra: string[] = []): string {
  const out: string[] = [];
  let placed = extra.length === 0;
  for (const line of text.split("\n")) {
    const server = nameserverOf(line);
    if (server !== undefined && !placed) {
      out.push(...extra.map((s) => `nameserver ${s}`));
      placed = true;
    }
    if (server === undefined || keep(server)) out.push(line);
  }
  const body = out.join("\n").trimEnd();
  const rest = placed ? "" : extra.map((s) => `nameserver ${s}`).join("\n");
  return [body, rest].filter((part) => part !== "").join("\n") + "\n";
}

/**
 * The resolver config of a container with its own network. A host whose /etc/resolv.conf names
 * only loopback servers (systemd-resolved's stub 127.0.0.53) has its real upstreams in systemd's
 * file: that one is used instead, whole (as docker does). Then loopback and IPv6 name servers go
 * (the container reaches neither: no IPv6 route). When none is left the file lists none:
 * unlike docker, cbox does not add 8.8.8.8 (no query leaves the machine by surprise); the
 * caller warns. nameservers, when given, replace the host's (search and options stay).
 */
export function containerResolvConf(host: HostResolv, nameserverOverride?: string[]): { text: string; noNameservers: boolean } {
  const stubOnly = nameservers(host.etc).every(isLoopback);
  const source = stubOnly && host.systemd !== undefined ? host.systemd : host.etc;
  const text =
    nameserverOverride !== undefined
      ? rewriteNameservers(source, () => false, nameserverOverride)
      : rewriteNameservers(source, (server) => !isLoopback(server) && !server.includes(":"));
  return { text, noNameservers: nameservers(text).length === 0 };
}

/** The files for a container; network undefined (or with nothing set) is --network none. */
export function etcFiles(hostname: string, network: EtcNetwork | undefined, name: string | undefined, host: { hosts?: string; resolv: HostResolv }, extras: EtcExtras = {}): EtcFiles {
  const files = networkEtcFiles(hostname, network, name, host);
  const added = (extras.hosts ?? []).map((h) => `${h.ip === HOST_GATEWAY ? hostGateway(h.name, network) : h.ip}\t${h.name}\n`).join("");
  const dns = extras.dns ?? {};
  return {
    ...files,
    hosts: added && !files.hosts.endsWith("\n") ? `${files.hosts}\n${added}` : files.hosts + added,
    resolvConf: withDnsOptions(files.resolvConf, dns),
    noNameservers: files.noNameservers && !dns.servers?.length,
  };
}

/** The gateway --add-host NAME:host-gateway names: a network asked for may turn out to have none (a user's, without slirp4netns). */
function hostGateway(name: string, network: EtcNetwork | undefined): string {
  if (network?.gateway) return network.gateway;
  throw new CboxError(`--add-host ${name}:host-gateway: this container got no network that reaches the host; give the host's address instead`);
}

function networkEtcFiles(hostname: string, network: EtcNetwork | undefined, name: string | undefined, host: { hosts?: string; resolv: HostResolv }): EtcFiles {
  const base = { hostname: hostname + "\n" };
  if (network?.hostFiles) {
    return { ...base, hosts: host.hosts ?? hostsFile(hostname), resolvConf: host.resolv.etc, noNameservers: false };
  }
  if (network?.ip === undefined && network?.nameservers === undefined) {
    return { ...base, hosts: hostsFile(hostname), resolvConf: resolvConf(host.resolv.etc), noNameservers: false };
  }
  const resolv = containerResolvConf(host.resolv, network.nameservers);
  return { ...base, hosts: hostsFile(hostname, network.ip, name), resolvConf: resolv.text, noNameservers: resolv.noNameservers };
}

/** The resolver file with the --dns flags' lines in place of the ones they replace. */
export function withDnsOptions(text: string, dns: DnsOptions): string {
  let out = dns.servers?.length ? rewriteNameservers(text, () => false, dns.servers) : text;
  const replace = (keyword: RegExp, line: string) => {
    out = `${out.split("\n").filter((l) => !keyword.test(l)).join("\n").trimEnd()}\n${line}\n`.trimStart();
  };
  if (dns.search?.length) replace(/^\s*(search|domain)\s/, `search ${dns.search.join(" ")}`);
  if (dns.options?.length) replace(/^\s*options\s/, `options ${dns.options.join(" ")}`);
  return out;
}

function readOr(path: string, missing: string | undefined): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return missing;
  }
}

/** The host's /etc/hosts (undefined when missing) and resolver files (a missing /etc/resolv.conf is empty). */
export function readHostEtc(): { hosts?: string; resolv: HostResolv } {
  return {
    hosts: readOr("/etc/hosts", undefined),
    resolv: { etc: readOr("/etc/resolv.conf", "")!, systemd: readOr(SYSTEMD_RESOLV, undefined) },
  };
}

/** Writes hostname, hosts and resolv.conf in the container's folder; noNameservers: warn with NO_NAMESERVERS_WARNING. */
export function writeEtcFiles(dirs: ContainerDirs, hostname: string, network?: EtcNetwork, name?: string, extras?: EtcExtras): { noNameservers: boolean } {
  const files = etcFiles(hostname, network, name, readHostEtc(), extras);
  writeFileSync(dirs.hostname, files.hostname, { mode: 0o644 });
  writeFileSync(dirs.hosts, files.hosts, { mode: 0o644 });
  writeFileSync(dirs.resolvConf, files.resolvConf, { mode: 0o644 });
  return { noNameservers: files.noNameservers };
}
