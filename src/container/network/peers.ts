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
  /** Its primary network (its own hosts line) and the named networks it is on. */
  primary: NetworkAttachment;
  named: NetworkAttachment[];
  hosts: string;
}

/** The hosts lines a member has for the others: address, then name, aliases and short id. */
export function peerLines(self: string, members: { id: string; name: string; net: NetworkAttachment }[]): string {
  return members
    .filter((m) => m.id !== self && m.net.ip)
    .map((m) => `${m.net.ip}\t${[m.name, ...(m.net.aliases ?? []), m.id.slice(0, 12)].filter(Boolean).join(" ")}\n`)
    .join("");
}

/**
 * Rewrites the hosts file of every container on the network that has not ended (leaving: one
 * that is ending now), and of also (one that has just left it).
 */
export function refreshPeers(paths: Paths, network: string, leaving?: string, also?: string): void {
  withNetworkLock(networkDir(paths, network), () => {
    const all = namedMembers(paths).filter((m) => m.id !== leaving);
    for (const m of all) {
      if (m.id !== also && !m.named.some((n) => n.network === network)) continue;
      const peers = m.named.flatMap((mine) => all.flatMap((o) => o.named.filter((n) => n.network === mine.network).map((net) => ({ id: o.id, name: o.spec.name, net }))));
      const own = etcFiles(m.spec.hostname, { ip: m.primary.ip, gateway: m.primary.gateway }, m.spec.name, { resolv: { etc: "" } }, m.spec.etc).hosts;
      try {
        writeFileSync(m.hosts, own + peerLines(m.id, peers));
      } catch {
        // removed meanwhile (rm -f of a member): nothing left to name peers in
      }
    }
  });
}

/** The containers that have not ended and are on some named network. */
function namedMembers(paths: Paths): Member[] {
  return listContainerIds(paths).flatMap((id) => {
    const dirs = containerDirs(paths, id);
    const state = readState(dirs.dir);
    const named = state ? namedAttachments(state) : [];
    const spec = named.length ? readSpec(dirs.dir, state!) : undefined;
    return spec ? [{ id, spec, primary: state!.network!, named, hosts: dirs.hosts }] : [];
  });
}

/** A container's live attachments to named networks: the one it started on and those connected since. */
function namedAttachments(state: ContainerState): NetworkAttachment[] {
  if (liveState(state) === "exited") return [];
  return [state.network, ...(state.connected ?? [])].filter((n): n is NetworkAttachment => !!n && !n.released && n.network !== undefined);
}

/** The containers on a named network that have not ended, with their attachment to it. */
export function containersOnNetwork(paths: Paths, network: string): { id: string; dirs: ContainerDirs; state: ContainerState; net: NetworkAttachment }[] {
  return listContainerIds(paths).flatMap((id) => {
    const dirs = containerDirs(paths, id);
    const state = readState(dirs.dir);
    const net = state && namedAttachments(state).find((n) => n.network === network);
    return net ? [{ id, dirs, state: state!, net }] : [];
  });
}
