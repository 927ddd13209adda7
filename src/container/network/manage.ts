// `cbox network create|ls|inspect|rm`: named networks made, listed, shown and removed. A network
// is made with its bridge at once, so that the next network (or cbox0) sees its subnet in the
// host's routes; after a reboot the first container on it makes the bridge again.
import { randomBytes } from "node:crypto";
import { CboxError } from "../../errors.ts";
import { deleteLink } from "../../linux/net/link.ts";
import { listRoutes } from "../../linux/net/route.ts";
import { NetlinkSocket } from "../../linux/netlink.ts";
import type { Paths } from "../../paths.ts";
import { containersOnNetwork } from "./peers.ts";
import { namedBridge, namedSubnets } from "./bridge.ts";
import { withNetworkLock } from "./ipam.ts";
import { bridgeNameOf, checkNetworkName, findNetwork, networkDir, networkExists, removeNetworkRecord, writeNetwork, type NamedNetwork } from "./named.ts";
import { chooseSubnet, gatewayOf } from "./subnet.ts";

export interface CreateOptions {
  subnet?: string;
  labels: Record<string, string>;
}

export function createNetwork(paths: Paths, name: string, opts: CreateOptions): NamedNetwork {
  if (process.getuid!() !== 0) throw new CboxError("cbox network create: named networks are for root (an ordinary user's containers each get slirp4netns)");
  checkNetworkName(name);
  if (networkExists(paths, name)) throw new CboxError(`network ${name} exists already`);
  const sock = NetlinkSocket.open();
  try {
    return withNetworkLock(paths.root, () => {
      const subnet = chooseSubnet([...listRoutes(sock), ...namedSubnets(paths)], undefined, opts.subnet);
      const id = randomBytes(32).toString("hex");
      const net: NamedNetwork = { name, id, bridge: bridgeNameOf(id), subnet, gateway: gatewayOf(subnet), created: new Date().toISOString(), labels: opts.labels };
      writeNetwork(paths, net);
      try {
        namedBridge(sock, net);
      } catch (err) {
        deleteLink(sock, net.bridge);
        removeNetworkRecord(paths, name);
        throw err;
      }
      return net;
    });
  } finally {
    sock.close();
  }
}

/** The containers on a network that have not ended, with their addresses. */
export function networkMembers(paths: Paths, name: string): { id: string; name: string; ip: string }[] {
  return containersOnNetwork(paths, name).map(({ id, state, net }) => ({ id, name: state.name, ip: net.ip ?? "" }));
}

/** Refused while a container that has not ended is on it; its bridge goes with it. */
export function removeNetwork(paths: Paths, ref: string): NamedNetwork {
  const net = findNetwork(paths, ref);
  return withNetworkLock(networkDir(paths, net.name), () => {
    const user = networkMembers(paths, net.name)[0];
    if (user) throw new CboxError(`network ${net.name} is in use by container ${user.name || user.id.slice(0, 12)}; stop or remove it first`);
    const sock = NetlinkSocket.open();
    try {
      deleteLink(sock, net.bridge);
    } finally {
      sock.close();
    }
    removeNetworkRecord(paths, net.name);
    return net;
  });
}

/** docker's `network inspect` object. */
export function inspectNetwork(paths: Paths, net: NamedNetwork): Record<string, unknown> {
  return {
    Name: net.name,
    Id: net.id,
    Created: net.created,
    Scope: "local",
    Driver: "bridge",
    IPAM: { Driver: "default", Config: [{ Subnet: net.subnet, Gateway: net.gateway }] },
    Containers: Object.fromEntries(networkMembers(paths, net.name).map((m) => [m.id, { Name: m.name, IPv4Address: m.ip }])),
    Options: { "com.docker.network.bridge.name": net.bridge },
    Labels: net.labels,
  };
}

