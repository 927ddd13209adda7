// Named (user-defined) networks: `cbox network create NAME`, each a bridge of its own with a
// subnet of its own, recorded in ROOT/networks/NAME/network.json; its address leases live beside
// it (ipam.ts with ROOT/networks/NAME as their root). cbox0 stays the default network, "bridge".
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CboxError } from "../../errors.ts";
import { writeAtomic } from "../../files.ts";
import type { Paths } from "../../paths.ts";

export interface NamedNetwork {
  name: string;
  id: string;
  /** Its bridge: "cbr" and 12 hex of the id (at most 15 characters, IFNAMSIZ). */
  bridge: string;
  subnet: string;
  gateway: string;
  created: string;
  labels: Record<string, string>;
}

/** docker's words for the networks every host has. */
export const BUILTIN_NETWORKS = ["bridge", "host", "none"];

/** The networks every host has, as `network ls` shows them (ids made from their names: there is no daemon to keep one). */
export function builtinNetworks(): { id: string; name: string; driver: string }[] {
  return BUILTIN_NETWORKS.map((name) => ({ name, driver: name === "none" ? "null" : name, id: new Bun.CryptoHasher("sha256").update(`cbox network ${name}`).digest("hex") }));
}

export function networksDir(paths: Paths): string {
  return join(paths.root, "networks");
}

/** The folder of one network: its record, and the root its leases and lock live under. */
export function networkDir(paths: Paths, name: string): string {
  return join(networksDir(paths), name);
}

export function checkNetworkName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(name)) throw new CboxError(`network name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, 64 at most`);
  if (BUILTIN_NETWORKS.includes(name) || name === "default") throw new CboxError(`network name ${JSON.stringify(name)} is one of docker's own (bridge, host, none)`);
}

export function readNetwork(paths: Paths, name: string): NamedNetwork | undefined {
  try {
    return JSON.parse(readFileSync(join(networkDir(paths, name), "network.json"), "utf8")) as NamedNetwork;
  } catch {
    return undefined;
  }
}

export function listNetworks(paths: Paths): NamedNetwork[] {
  let names: string[];
  try {
    names = readdirSync(networksDir(paths));
  } catch {
    return [];
  }
  return names.flatMap((n) => readNetwork(paths, n) ?? []).sort((a, b) => a.name.localeCompare(b.name));
}

/** A network by name, or by a unique prefix of its id (as docker finds them). */
export function findNetwork(paths: Paths, ref: string): NamedNetwork {
  const byName = readNetwork(paths, ref);
  if (byName) return byName;
  const byId = /^[0-9a-f]+$/.test(ref) ? listNetworks(paths).filter((n) => n.id.startsWith(ref)) : [];
  if (byId.length === 1) return byId[0]!;
  if (byId.length > 1) throw new CboxError(`"${ref}" matches ${byId.length} networks; give more of the id`);
  throw new CboxError(`no such network: ${ref} (cbox network ls lists them; cbox network create ${ref} makes it)`);
}

export function writeNetwork(paths: Paths, net: NamedNetwork): void {
  mkdirSync(networkDir(paths, net.name), { recursive: true, mode: 0o700 });
  writeAtomic(join(networkDir(paths, net.name), "network.json"), `${JSON.stringify(net, null, 2)}\n`, 0o600);
}

export function removeNetworkRecord(paths: Paths, name: string): void {
  rmSync(networkDir(paths, name), { recursive: true, force: true });
}

export function networkExists(paths: Paths, name: string): boolean {
  return existsSync(join(networkDir(paths, name), "network.json"));
}

export function bridgeNameOf(id: string): string {
  return `cbr${id.slice(0, 12)}`;
}
