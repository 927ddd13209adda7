// The bridge's subnet: the first private /16 of a fixed list that no host route overlaps, so
// containers never shadow a network the host can reach (a VPN, a LAN, docker's own bridges).
import { CboxError } from "../../errors.ts";
import { formatIpv4, networkOf, overlaps, parseCidr, subnetText, type Cidr } from "../../linux/net/ipv4.ts";

/** A route of the host's main table, as far as overlaps go. */
export interface RouteLike {
  dst: string;
  prefix: number;
  oif?: number;
}

/** 10.88.0.0/16 (podman's default too) to 10.99.0.0/16, then 172.30.0.0/16 and 172.31.0.0/16. */
export const CANDIDATE_SUBNETS: string[] = [
  ...Array.from({ length: 12 }, (_, i) => `10.${88 + i}.0.0/16`),
  "172.30.0.0/16",
  "172.31.0.0/16",
];

/**
 * wanted (e.g. from CBOX_SUBNET), checked, or the first candidate no route overlaps. Routes out of
 * the bridge itself (oif === ignoreOif) and the default route are not in the way.
 */
export function chooseSubnet(routes: RouteLike[], ignoreOif?: number, wanted?: string): string {
  const inTheWay = routes.filter((r) => r.prefix > 0 && (ignoreOif === undefined || r.oif !== ignoreOif));
  const collision = (subnet: Cidr) =>
    inTheWay.find((r) => {
      const cidr = parseCidr(`${r.dst}/${r.prefix}`);
      return cidr !== undefined && overlaps(subnet, cidr);
    });
  if (wanted !== undefined) {
    const subnet = checkSubnet(wanted);
    const route = collision(subnet);
    if (route) throw new CboxError(`subnet ${wanted} overlaps the host's route to ${subnetText(parseCidr(`${route.dst}/${route.prefix}`)!)}`);
    return wanted;
  }
  const free = CANDIDATE_SUBNETS.find((s) => !collision(parseCidr(s)!));
  if (!free) throw new CboxError(`no free subnet for the bridge: host routes overlap ${CANDIDATE_SUBNETS[0]} to ${CANDIDATE_SUBNETS.at(-1)}; set CBOX_SUBNET to a free one`);
  return free;
}

/** A subnet given by the user: a network address with a prefix of 8 to 30 bits. */
export function checkSubnet(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new CboxError(`subnet "${text}": expected an IPv4 network such as 10.88.0.0/16`);
  if (cidr.prefix < 8 || cidr.prefix > 30) throw new CboxError(`subnet "${text}": the prefix length must be 8 to 30`);
  if (networkOf(cidr) !== cidr.addr) throw new CboxError(`subnet "${text}": host bits are set (the network is ${subnetText(cidr)})`);
  return cidr;
}

/** The bridge's own address: the subnet's first host address. */
export function gatewayOf(subnet: string): string {
  const cidr = parseCidr(subnet);
  if (!cidr) throw new CboxError(`subnet "${subnet}": expected an IPv4 network such as 10.88.0.0/16`);
  if (cidr.prefix > 30) throw new CboxError(`subnet "${subnet}": no room for a gateway`);
  return formatIpv4(networkOf(cidr) + 1);
}
