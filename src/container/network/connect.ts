// `cbox network connect|disconnect NETWORK CONTAINER`: a running container joins a named network
// (a veth more, eth1 and on, with an address of that network and no default route), or leaves one
// it was connected to. Its hosts file and the other members' follow.
import { CboxError } from "../../errors.ts";
import { deleteLink } from "../../linux/net/link.ts";
import { NetlinkSocket } from "../../linux/netlink.ts";
import type { Paths } from "../../paths.ts";
import { withContainerLock } from "../lock.ts";
import { containerRuns } from "../run.ts";
import { resolveContainer } from "../remove.ts";
import { liveState, pid1Alive } from "../status.ts";
import { containerDirs, readState, updateState, type ContainerState } from "../store.ts";
import { connectNetwork, releaseNetwork, reserveNetwork, type NetworkAttachment } from "./attachment.ts";
import { findNetwork } from "./named.ts";
import { refreshPeers } from "./peers.ts";

export function connectContainer(paths: Paths, networkRef: string, containerRef: string, aliases: string[]): void {
  if (process.getuid!() !== 0) throw new CboxError("cbox network connect: named networks are for root's containers");
  const network = findNetwork(paths, networkRef);
  for (const alias of aliases) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/.test(alias)) throw new CboxError(`--alias ${JSON.stringify(alias)}: not a valid host name (letters, digits, '.', '-')`);
  }
  const id = resolveContainer(paths, containerRef);
  const dirs = containerDirs(paths, id);
  withContainerLock(dirs.dir, () => {
    const state = runningState(dirs.dir, containerRef, "connect");
    if (state.network?.mode !== "bridge" || state.network.helper) {
      throw new CboxError(`container ${containerRef} has ${state.network?.mode === "bridge" ? "slirp4netns" : `--network ${state.network?.mode ?? "none"}`}; only a container on a bridge can be connected to a named network`);
    }
    const attached = attachments(state);
    if (attached.some((n) => n.network === network.name)) throw new CboxError(`container ${containerRef} is on network ${network.name} already`);
    const index = freeIndex((state.connected ?? []).filter((n) => !n.released));
    // 15 characters at most (IFNAMSIZ): cx, 11 of the id, the index.
    const link = { veth: `cx${id.slice(0, 11)}${index}`, iface: `eth${index}` };
    let made: NetworkAttachment | undefined;
    const record = (net: NetworkAttachment) => {
      made = net;
      updateState(dirs, { connected: [...(state.connected ?? []), net] });
    };
    try {
      const net = reserveNetwork({ mode: "bridge", ports: [], network: network.name, ...(aliases.length && { aliases }) }, false, { id, paths, link, isAlive: containerRuns, record });
      connectNetwork(net, state.pid!, dirs.dir);
    } catch (err) {
      // A reservation recorded and then refused (its firewall, say) is undone too.
      if (made) takeAway(made, id, paths);
      updateState(dirs, { connected: state.connected });
      throw err;
    }
  });
  refreshPeers(paths, network.name);
}

export function disconnectContainer(paths: Paths, networkRef: string, containerRef: string): void {
  const network = findNetwork(paths, networkRef);
  const id = resolveContainer(paths, containerRef);
  const dirs = containerDirs(paths, id);
  withContainerLock(dirs.dir, () => {
    const state = runningState(dirs.dir, containerRef, "disconnect");
    if (state.network?.network === network.name) {
      throw new CboxError(`container ${containerRef} was started on network ${network.name}, which cbox cannot take from it while it runs; stop it, or run it again on another network`);
    }
    const net = (state.connected ?? []).find((n) => n.network === network.name && !n.released);
    if (!net) throw new CboxError(`container ${containerRef} is not connected to network ${network.name}`);
    takeAway(net, id, paths);
    updateState(dirs, { connected: state.connected!.filter((n) => n !== net) });
  });
  refreshPeers(paths, network.name, undefined, id);
}

/** The lowest ethN (N from 1) that no live connected network has: a disconnect frees its number. */
function freeIndex(connected: NetworkAttachment[]): number {
  const taken = new Set(connected.map((n) => n.iface));
  let index = 1;
  while (taken.has(`eth${index}`)) index++;
  if (index > 99) throw new CboxError("a container can be connected to 99 networks at most");
  return index;
}

/** Its address and ports released, and its veth deleted: both ends, so the interface leaves the container now. */
function takeAway(net: NetworkAttachment, id: string, paths: Paths): void {
  releaseNetwork(net, id, paths);
  const sock = NetlinkSocket.open();
  try {
    deleteLink(sock, net.veth!);
  } finally {
    sock.close();
  }
}

function runningState(dir: string, ref: string, what: string): ContainerState {
  const state = readState(dir);
  if (!state) throw new CboxError(`no such container: ${ref}`);
  if (liveState(state) !== "running" || !pid1Alive(state)) throw new CboxError(`container ${ref} is not running; cbox network ${what} works on running containers`);
  return state;
}

function attachments(state: ContainerState): NetworkAttachment[] {
  return [state.network, ...(state.connected ?? [])].filter((n): n is NetworkAttachment => !!n && !n.released);
}
