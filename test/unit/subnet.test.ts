import { describe, expect, test } from "bun:test";
import { CANDIDATE_SUBNETS, checkSubnet, chooseSubnet, gatewayOf } from "../../src/container/network/subnet.ts";
import { thrown } from "./helpers.ts";

const route = (cidr: string, oif?: number) => {
  const [dst, prefix] = cidr.split("/");
  return { dst: dst!, prefix: Number(prefix), oif };
};

describe("chooseSubnet", () => {
  test("the candidates, in order", () => {
    expect(CANDIDATE_SUBNETS).toEqual([
      "10.88.0.0/16", "10.89.0.0/16", "10.90.0.0/16", "10.91.0.0/16", "10.92.0.0/16", "10.93.0.0/16",
      "10.94.0.0/16", "10.95.0.0/16", "10.96.0.0/16", "10.97.0.0/16", "10.98.0.0/16", "10.99.0.0/16",
      "172.30.0.0/16", "172.31.0.0/16",
    ]);
  });

  test("no routes, or routes elsewhere: the first", () => {
    expect(chooseSubnet([])).toBe("10.88.0.0/16");
    expect(chooseSubnet([route("192.168.1.0/24", 2), route("172.17.0.0/16", 3), route("10.87.255.0/24", 2), route("10.0.0.0/13", 2)])).toBe("10.88.0.0/16");
  });

  test("the default route is not in the way", () => {
    expect(chooseSubnet([route("0.0.0.0/0", 2), route("192.168.1.0/24", 2)])).toBe("10.88.0.0/16");
  });

  test("a route inside, around or equal to a candidate moves to the next", () => {
    expect(chooseSubnet([route("10.88.5.0/24", 2)])).toBe("10.89.0.0/16");
    expect(chooseSubnet([route("10.88.0.0/16", 2)])).toBe("10.89.0.0/16");
    expect(chooseSubnet([route("10.88.0.0/15", 2)])).toBe("10.90.0.0/16");
    expect(chooseSubnet([route("10.88.255.255/32", 2), route("10.89.0.1/32", 2)])).toBe("10.90.0.0/16");
    expect(chooseSubnet([route("10.64.0.0/10", 2)])).toBe("172.30.0.0/16");
  });

  test("10.0.0.0/8 (a VPN) leaves 172.30, then 172.31", () => {
    expect(chooseSubnet([route("10.0.0.0/8", 5)])).toBe("172.30.0.0/16");
    expect(chooseSubnet([route("10.0.0.0/8", 5), route("172.30.1.0/24", 6)])).toBe("172.31.0.0/16");
  });

  test("routes on the bridge itself are ignored, others on the same subnet are not", () => {
    expect(chooseSubnet([route("10.88.0.0/16", 7)], 7)).toBe("10.88.0.0/16");
    expect(chooseSubnet([route("10.88.0.0/16", 7), route("10.88.0.0/24", 8)], 7)).toBe("10.89.0.0/16");
    // A route without a link (blackhole) is in the way whatever the bridge is.
    expect(chooseSubnet([route("10.88.0.0/16")], 7)).toBe("10.89.0.0/16");
    expect(chooseSubnet([route("10.88.0.0/16")])).toBe("10.89.0.0/16");
  });

  test("none free is an error", () => {
    const err = thrown(() => chooseSubnet([route("10.0.0.0/8", 2), route("172.16.0.0/12", 3)]));
    expect(err.message).toBe("no free subnet for the bridge: host routes overlap 10.88.0.0/16 to 172.31.0.0/16; set CBOX_SUBNET to a free one");
  });
});

describe("a wanted subnet", () => {
  test("taken as given when free, even over the candidates' order", () => {
    expect(chooseSubnet([route("192.168.0.0/16", 2)], undefined, "10.200.0.0/24")).toBe("10.200.0.0/24");
    expect(chooseSubnet([], undefined, "192.168.77.0/30")).toBe("192.168.77.0/30");
    expect(chooseSubnet([route("10.0.0.0/8", 2)], 2, "10.1.0.0/16")).toBe("10.1.0.0/16");
    expect(chooseSubnet([route("0.0.0.0/0", 2)], undefined, "10.0.0.0/8")).toBe("10.0.0.0/8");
  });

  test("one overlapping a route names the route", () => {
    expect(thrown(() => chooseSubnet([route("192.168.1.0/24", 2)], undefined, "192.168.0.0/16")).message).toBe(
      "subnet 192.168.0.0/16 overlaps the host's route to 192.168.1.0/24",
    );
    expect(thrown(() => chooseSubnet([route("10.0.0.0/8", 2)], 9, "10.88.0.0/16")).message).toBe("subnet 10.88.0.0/16 overlaps the host's route to 10.0.0.0/8");
  });

  const bad: [string, string][] = [
    ["10.88.0.0", "expected an IPv4 network such as 10.88.0.0/16"],
    ["10.88.0.0/", "expected an IPv4 network such as 10.88.0.0/16"],
    ["10.88.0/16", "expected an IPv4 network such as 10.88.0.0/16"],
    ["10.300.0.0/16", "expected an IPv4 network such as 10.88.0.0/16"],
    ["10.88.0.0/33", "expected an IPv4 network such as 10.88.0.0/16"],
    ["fd00::/64", "expected an IPv4 network such as 10.88.0.0/16"],
    ["", "expected an IPv4 network such as 10.88.0.0/16"],
    ["10.0.0.0/7", "the prefix length must be 8 to 30"],
    ["10.88.0.0/31", "the prefix length must be 8 to 30"],
    ["10.88.0.0/32", "the prefix length must be 8 to 30"],
    ["10.88.0.1/16", "host bits are set (the network is 10.88.0.0/16)"],
  ];
  for (const [wanted, why] of bad) {
    test(`refused: "${wanted}"`, () => {
      expect(thrown(() => chooseSubnet([], undefined, wanted)).message).toBe(`subnet "${wanted}": ${why}`);
      expect(thrown(() => checkSubnet(wanted)).message).toBe(`subnet "${wanted}": ${why}`);
    });
  }
});

describe("gatewayOf", () => {
  test("the first host address", () => {
    expect(gatewayOf("10.88.0.0/16")).toBe("10.88.0.1");
    expect(gatewayOf("172.31.0.0/16")).toBe("172.31.0.1");
    expect(gatewayOf("192.168.77.4/30")).toBe("192.168.77.5");
    expect(gatewayOf("10.0.0.0/8")).toBe("10.0.0.1");
  });

  test("no room, or not a subnet", () => {
    expect(thrown(() => gatewayOf("10.88.0.0/31")).message).toBe('subnet "10.88.0.0/31": no room for a gateway');
    expect(thrown(() => gatewayOf("10.88.0.0/32")).message).toBe('subnet "10.88.0.0/32": no room for a gateway');
    expect(thrown(() => gatewayOf("nope")).message).toBe('subnet "nope": expected an IPv4 network such as 10.88.0.0/16');
  });
});
