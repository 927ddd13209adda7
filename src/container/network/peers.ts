// Names on a named network: every container on it finds the others by name, alias and short id
// in its /etc/hosts. There is no daemon to answer DNS, so when a container joins or leaves,
// the hosts file of every member is written again, in place (each is bound into its container
// by inode: a rename would leave the container with the old file).
import { writeFileSync } from "node:fs";
import type { Paths } from "../../paths.ts";
import { etcFiles } from "../etc-files.ts";
import { liveState } from "../status.ts";
import { containerDirs, listContainerIds, readSpec, readState } from "../store-read.ts";
import type { ContainerSpec } from "../spec.ts";
import type { ContainerDirs } from "../plan.ts";
import type { ContainerState } from "../store.ts";
import type { NetworkAttachment } from "./attachment.ts";
import { networkDir } from "./named.ts";
import { withNetworkLock } from "./ipam.ts";

interface Member {
  id: string;
  spec: ContainerSpec;
  net: NetworkAttachment;
  hosts: string;
}

/** The hosts lines a member has for the others: address, then name, aliases and short id. */
export function peerLines(self: string, members: { id: string; name: string; net: NetworkAttachment }[]): string {
  return members
    .filter((m) => m.id !== self && m.net.ip)
    .map((m) => `${m.net.ip}\t${[m.name, ...(m.net.aliases ?? []), m.id.slice(0, 12)].filter(Boolean).join(" ")}\n`)
    .join("");
}

/** Rewrites the hosts file of every container on the network that has not ended (leaving: one that is ending now). */
export function refreshPeers(paths: Paths, network: string, leaving?: string): void {
  withNetworkLock(networkDir(paths, network), () => {
    const members = onNetwork(paths, network).filter((m) => m.id !== leaving);
    const named = members.map((m) => ({ id: m.id, name: m.spec.name, net: m.net }));
    for (const m of members) {
      const own = etcFiles(m.spec.hostname, { ip: m.net.ip, gateway: m.net.gateway }, m.spec.name, { resolv: { etc: "" } }, m.spec.etc).hosts;
      writeFileSync(m.hosts, own + peerLines(m.id, named));
    }
  });
}

function onNetwork(paths: Paths, network: string): Member[] {
  return containersOnNetwork(paths, network).flatMap(({ id, dirs, state, net }) => {
    const spec = readSpec(dirs.dir, state);
    return spec ? [{ id, spec, net, hosts: dirs.hosts }] : [];
  });
}

/** The containers on a named network that have not ended. */
export function containersOnNetwork(paths: Paths, network: string): { id: string; dirs: ContainerDirs; state: ContainerState; net: NetworkAttachment }[] {
  return listContainerIds(paths).flatMap((id) => {
    const dirs = containerDirs(paths, id);
    const state = readState(dirs.dir);
    const net = state?.network;
    if (!state || !net || net.released || net.network !== network || liveState(state) === "exited") return [];
    return [{ id, dirs, state, net }];
  });
}
