// Addresses on the bridge, leased to containers in the storage root: <root>/network/leases.json,
// read and rewritten (atomically) under an exclusive lock on <root>/network/lock. A lease whose
// container no longer runs comes back at the next allocation, so a cbox killed at any point
// leaks nothing for long.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CboxError } from "../../errors.ts";
import { writeAtomic } from "../../files.ts";
import { broadcastOf, contains, formatCidr, formatIpv4, networkOf, parseCidr, parseIpv4 } from "../../linux/net/ipv4.ts";
import { withContainerLock } from "../lock.ts";

/** leases.json. */
export interface LeaseFile {
  subnet: string;
  /** address -> container id */
  leases: Record<string, string>;
  /** The address handed out last: the next one is searched after it (round robin). */
  last: string;
}

function networkDir(root: string): string {
  return join(root, "network");
}

export function leasesPath(root: string): string {
  return join(networkDir(root), "leases.json");
}

/** Roots whose lock this process holds: a nested call runs under it instead of waiting on itself. */
const held = new Set<string>();

/** fn under the storage root's network lock (leases, and the caller's bridge and firewall setup). */
export function withNetworkLock<T>(root: string, fn: () => T): T {
  const dir = networkDir(root);
  if (held.has(dir)) return fn();
  const lock = join(dir, "lock");
  if (!existsSync(lock)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(lock, "", { flag: "a", mode: 0o600 }); // made if missing: an unlocked run needs a missing file
  }
  return withContainerLock(lock, () => {
    held.add(dir);
    try {
      return fn();
    } finally {
      held.delete(dir);
    }
  });
}

/**
 * An address of subnet for id. Leases of containers that no longer run (isAlive false) come back
 * first; then the next free address after the last one handed out, wrapping around, so that a
 * freed address is not the first one given again. id's own lease in subnet, if any, is kept.
 */
export function allocateAddress(root: string, id: string, subnet: string, isAlive: (id: string) => boolean): string {
  const cidr = parseCidr(subnet);
  if (!cidr || networkOf(cidr) !== cidr.addr) throw new CboxError(`not a subnet: "${subnet}"`);
  return withNetworkLock(root, () => {
    const file = readLeases(root);
    let leases = Object.fromEntries(Object.entries(file?.leases ?? {}).filter(([, holder]) => holder !== id && isAlive(holder)));
    const own = Object.entries(file?.leases ?? {}).find(([ip, holder]) => holder === id && file!.subnet === subnet && contains(cidr, parseIpv4(ip)!));
    if (file && file.subnet !== subnet) {
      const holders = [...new Set(Object.values(leases))];
      if (holders.length > 0) {
        throw new CboxError(
          `the bridge's subnet is now ${subnet}, but containers still hold addresses in ${file.subnet}: ${holders.map((h) => h.slice(0, 12)).join(", ")}; stop them first`,
        );
      }
      leases = {};
    }
    const sameSubnet = file?.subnet === subnet;
    if (own) {
      writeLeases(root, { subnet, leases: { ...leases, [own[0]]: id }, last: sameSubnet ? file!.last : own[0] });
      return own[0];
    }
    const ip = nextFree(cidr, new Set(Object.keys(leases)), sameSubnet ? parseIpv4(file!.last) : undefined);
    if (!ip) throw new CboxError(`no free address in ${formatCidr(cidr)}`);
    writeLeases(root, { subnet, leases: { ...leases, [ip]: id }, last: ip });
    return ip;
  });
}

/** The first address after last that is free: not the network, the gateway (first host) or the broadcast address. */
function nextFree(cidr: { addr: number; prefix: number }, leased: Set<string>, last: number | undefined): string | undefined {
  const first = networkOf(cidr) + 2;
  const end = broadcastOf(cidr) - 1;
  if (first > end) return undefined;
  const size = end - first + 1;
  const from = last !== undefined && last >= first && last <= end ? last - first + 1 : 0;
  for (let i = 0; i < size; i++) {
    const ip = formatIpv4(first + ((from + i) % size));
    if (!leased.has(ip)) return ip;
  }
  return undefined;
}

/** Frees every lease of id; no lease file is fine. */
export function releaseAddress(root: string, id: string): void {
  if (!existsSync(leasesPath(root))) return;
  withNetworkLock(root, () => {
    const file = readLeases(root);
    if (!file || !Object.values(file.leases).includes(id)) return;
    writeLeases(root, { ...file, leases: Object.fromEntries(Object.entries(file.leases).filter(([, holder]) => holder !== id)) });
  });
}

/** The addresses leased to id. */
export function leasesOf(root: string, id: string): string[] {
  const file = readLeases(root);
  return file ? Object.entries(file.leases).flatMap(([ip, holder]) => (holder === id ? [ip] : [])) : [];
}

/** leases.json, or undefined when there is none; one that is not a lease file is an error (its leases are unknown). */
export function readLeases(root: string): LeaseFile | undefined {
  const path = leasesPath(root);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (!isLeaseFile(data)) throw new CboxError(`${path} is not a lease file: remove it when no container with a network runs`);
  return data;
}

function isLeaseFile(data: unknown): data is LeaseFile {
  if (typeof data !== "object" || data === null) return false;
  const d = data as Record<string, unknown>;
  if (typeof d.subnet !== "string" || !parseCidr(d.subnet) || typeof d.last !== "string") return false;
  if (typeof d.leases !== "object" || d.leases === null || Array.isArray(d.leases)) return false;
  return Object.entries(d.leases).every(([ip, id]) => parseIpv4(ip) !== undefined && typeof id === "string");
}

function writeLeases(root: string, file: LeaseFile): void {
  writeAtomic(leasesPath(root), JSON.stringify(file, null, 2) + "\n", 0o600);
}
