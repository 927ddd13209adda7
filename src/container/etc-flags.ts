// --add-host, --dns, --dns-search and --dns-option: checked, then kept for the container's
// /etc/hosts and /etc/resolv.conf (etc-files.ts writes them).
import { CboxError } from "../errors.ts";
import { isIpAddress } from "../linux/net/ipv4.ts";
import { HOST_GATEWAY, type EtcExtras } from "./etc-files.ts";

export interface EtcFlags {
  addHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

/** hasGateway: whether the container's network reaches the host (--network none does not). */
export function parseEtcFlags(flags: EtcFlags, hasGateway: boolean): EtcExtras {
  const hosts = (flags.addHosts ?? []).map((value) => parseAddHost(value, hasGateway));
  for (const server of flags.dns ?? []) {
    if (!isIpAddress(server)) throw new CboxError(`--dns ${server}: expected an IP address, such as 192.0.2.53`);
  }
  for (const domain of flags.dnsSearch ?? []) {
    if (!/^[a-zA-Z0-9.-]{1,253}$/.test(domain)) throw new CboxError(`--dns-search ${domain}: not a domain name`);
  }
  for (const option of flags.dnsOptions ?? []) {
    if (!/^[a-z][a-z0-9-]*(:\d+)?$/.test(option)) throw new CboxError(`--dns-option ${option}: expected a resolver option, such as ndots:2 or edns0`);
  }
  const dns = { servers: flags.dns, search: flags.dnsSearch, options: flags.dnsOptions };
  return { ...(hosts.length && { hosts }), ...(Object.values(dns).some((v) => v?.length) && { dns }) };
}

/** NAME:IP or NAME=IP (docker takes both; an IPv6 address keeps its colons after the first one). */
function parseAddHost(value: string, hasGateway: boolean): { name: string; ip: string } {
  const sep = /[:=]/.exec(value)?.index ?? -1;
  const name = value.slice(0, sep);
  const ip = value.slice(sep + 1).replace(/^\[(.*)\]$/, "$1");
  if (sep <= 0 || !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,252})$/.test(name)) throw new CboxError(`--add-host ${value}: expected NAME:IP, such as db:192.0.2.7 or host.docker.internal:host-gateway`);
  if (ip === HOST_GATEWAY) {
    if (!hasGateway) throw new CboxError(`--add-host ${value}: host-gateway needs a network that reaches the host, and --network none has none`);
  } else if (!isIpAddress(ip)) throw new CboxError(`--add-host ${value}: ${JSON.stringify(ip)} is not an IP address`);
  return { name, ip };
}
