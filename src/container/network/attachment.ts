// A container's network from start to end: reserved before it is cloned (recorded in its
// state.json first, so that a cbox killed at any point leaves a record to undo), connected while
// it is held, released when it ends, by whichever cbox records the end.
import { warn } from "../../cli/output.ts";
import { CboxError } from "../../errors.ts";
import type { Paths } from "../../paths.ts";
import { connectBridge, releaseBridge, reserveBridge, type ReserveContext } from "./bridge.ts";
import { choosePorts } from "./host-ports.ts";
import { helperMissing, rootlessHelper, startHelper, stopHelper, type HelperProcess } from "./rootless.ts";
import type { NetworkMode, NetworkSpec, PortSpec } from "./spec.ts";
import type { EtcNetwork } from "../etc-files.ts";
import { refreshPeers } from "./peers.ts";
import type { ContainerState } from "../store.ts";

/** What a container's network is, as recorded in its state.json. */
export interface NetworkAttachment {
  /** What it got: a user's bridge is slirp4netns, or none when no helper can run. */
  mode: NetworkMode;
  /** Its address, its gateway and the subnet's prefix length (bridge and slirp4netns). */
  ip?: string;
  gateway?: string;
  prefix?: number;
  /** The host end of its veth pair (bridge). */
  veth?: string;
  /** Its published ports, host ports chosen. */
  ports: PortSpec[];
  /** The storage root whose network folder holds its address lease (bridge). */
  leases?: string;
  /** The firewall that holds its ports and NAT (bridge). */
  firewall?: "nft" | "iptables";
  /** The rootless helper that gives it its network. */
  helper?: HelperProcess;
  /** Undone already: nothing is left to release. */
  released?: boolean;
  /** A named network's: its name, its bridge, and the container's other names on it (--network-alias). */
  network?: string;
  bridge?: string;
  aliases?: string[];
  /** Its interface inside when connected later (cbox network connect: eth1, ...); absent: eth0, with the default route. */
  iface?: string;
}

/**
 * Before the container is cloned: its address and ports, the bridge and the firewall rules.
 * record(net) is called with what will be made before it is made.
 */
export function reserveNetwork(spec: NetworkSpec, rootless: boolean, ctx: ReserveContext): NetworkAttachment {
  if (spec.mode !== "bridge") return { mode: spec.mode, ports: [] };
  if (!rootless) return reserveBridge(spec, ctx);
  if (spec.ports.length > 0) {
    const missing = helperMissing();
    if (missing) throw new CboxError(`cannot publish ports: ${missing}`);
  }
  const kind = rootlessHelper(ctx.paths);
  if (!kind) return { mode: "none", ports: [] };
  // Its ports are chosen here; slirp4netns binds them when it starts.
  const ports = choosePorts(spec.ports, []);
  return { mode: "bridge", ip: "10.0.2.100", gateway: "10.0.2.2", prefix: 24, ports, helper: { kind, pid: 0, startTime: "" } };
}

/**
 * While the container is held (maps written, nothing of its own run yet): its link comes up.
 * True when net changed (a rootless helper started: its pid) and must be recorded again; a
 * bridge's record was complete before it was made.
 */
export function connectNetwork(net: NetworkAttachment, pid: number, dir: string): boolean {
  if (net.mode !== "bridge") return false;
  if (!net.helper) {
    connectBridge(net, pid);
    return false;
  }
  net.helper = startHelper(net.helper.kind, pid, dir, net.ports);
  return true;
}

/** Undoes what reserveNetwork and connectNetwork made; safe to run twice, or on a half-made one. */
export function releaseNetwork(net: NetworkAttachment | undefined, id: string, paths: Paths): void {
  if (!net || net.released || net.mode !== "bridge") return;
  if (net.helper) stopHelper(net.helper);
  else releaseBridge(net, id, paths);
}

/** The same, for a record: failures become warnings (the container's end is still recorded). */
export function releaseRecordedNetwork(net: NetworkAttachment | undefined, id: string, paths: Paths): NetworkAttachment | undefined {
  try {
    releaseNetwork(net, id, paths);
    if (net?.network && !net.released) refreshPeers(paths, net.network, id);
  } catch (err) {
    warn(`cleanup: release the network of ${id.slice(0, 12)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return net && { ...net, released: true };
}

/** At a container's end: its network and the named networks connected since (network connect), released; what its state records then. */
export function releaseNetworks(state: Pick<ContainerState, "network" | "connected">, id: string, paths: Paths): Pick<ContainerState, "network" | "connected"> {
  return { network: releaseRecordedNetwork(state.network, id, paths), connected: state.connected?.map((net) => releaseRecordedNetwork(net, id, paths)!) };
}

/** What /etc/hosts and /etc/resolv.conf get. */
export function etcNetwork(net: NetworkAttachment): EtcNetwork {
  if (net.mode === "host") return { hostFiles: true, gateway: "127.0.0.1" };
  if (net.helper) return { ip: net.ip, nameservers: ["10.0.2.3"], gateway: net.gateway };
  return { ip: net.ip, gateway: net.gateway };
}
