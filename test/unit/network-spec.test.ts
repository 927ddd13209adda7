import { describe, expect, test } from "bun:test";
import { HOST_PORTS_DISCARDED, parseNetwork, parsePort } from "../../src/container/network/spec.ts";
import { thrown } from "./helpers.ts";

describe("--network", () => {
  test("bridge by default, and for bridge and docker's default", () => {
    for (const mode of [undefined, "", "default", "bridge"]) expect(parseNetwork(mode, []).spec).toEqual({ mode: "bridge", ports: [] });
  });

  test("none and host", () => {
    expect(parseNetwork("none", [])).toEqual({ spec: { mode: "none", ports: [] } });
    expect(parseNetwork("host", [])).toEqual({ spec: { mode: "host", ports: [] } });
  });

  test("container:NAME: another container's network, with no ports of its own", () => {
    expect(parseNetwork("container:web", [])).toEqual({ spec: { mode: "container", ports: [], container: "web" } });
    expect(thrown(() => parseNetwork("container:web", ["80"])).message).toBe(`-p "80": a container on another container's network (--network container:web) publishes nothing of its own; publish on that container`);
  });

  test("a name is a named network on a bridge of its own; aliases only there", () => {
    expect(parseNetwork("backend", ["8080:80"], ["db"]).spec).toEqual({ mode: "bridge", network: "backend", aliases: ["db"], ports: [{ hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp" }] });
    expect(parseNetwork("bridge", []).spec).toEqual({ mode: "bridge", ports: [] });
    expect(thrown(() => parseNetwork("bridge", [], ["db"])).message).toBe("--network-alias db: aliases are for named networks (cbox network create NAME, then --network NAME)");
    expect(thrown(() => parseNetwork("backend", [], ["bad_alias"])).message).toBe(`--network-alias "bad_alias": not a valid host name (letters, digits, '.', '-')`);
  });

  test("anything else is refused, named", () => {
    for (const mode of ["container:", "-net", " none", "a/b"]) {
      expect(thrown(() => parseNetwork(mode, [])).message).toBe(`--network "${mode}": expected none, host, bridge, container:NAME or a network's name`);
    }
  });

  test("-p with host is dropped with docker's warning", () => {
    expect(parseNetwork("host", ["8080:80", "53/udp"])).toEqual({ spec: { mode: "host", ports: [] }, warning: HOST_PORTS_DISCARDED });
  });

  test("-p with none is refused", () => {
    const err = thrown(() => parseNetwork("none", ["8080:80"]));
    expect(err.message).toBe('-p "8080:80": a container with --network none has no network to publish ports from');
    expect(err.exitCode).toBe(125);
  });

  test("a bad -p is refused before the mode is looked at", () => {
    expect(thrown(() => parseNetwork("host", ["x"])).message).toBe('-p "x": not a container port: "x"');
  });
});

describe("-p forms", () => {
  const cases: [string, object][] = [
    ["80", { hostIp: "", hostPort: 0, containerPort: 80, proto: "tcp" }],
    ["53/udp", { hostIp: "", hostPort: 0, containerPort: 53, proto: "udp" }],
    ["53/UDP", { hostIp: "", hostPort: 0, containerPort: 53, proto: "udp" }],
    ["8080:80", { hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp" }],
    ["8080:80/tcp", { hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp" }],
    ["5353:53/udp", { hostIp: "", hostPort: 5353, containerPort: 53, proto: "udp" }],
    ["127.0.0.1:8081:80", { hostIp: "127.0.0.1", hostPort: 8081, containerPort: 80, proto: "tcp" }],
    ["127.0.0.1::80", { hostIp: "127.0.0.1", hostPort: 0, containerPort: 80, proto: "tcp" }],
    ["192.168.1.5:53:53/udp", { hostIp: "192.168.1.5", hostPort: 53, containerPort: 53, proto: "udp" }],
    ["0.0.0.0:8080:80", { hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp" }],
    [":80", { hostIp: "", hostPort: 0, containerPort: 80, proto: "tcp" }],
    ["::80/udp", { hostIp: "", hostPort: 0, containerPort: 80, proto: "udp" }],
    [":8080:80", { hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp" }],
    ["1:65535", { hostIp: "", hostPort: 1, containerPort: 65535, proto: "tcp" }],
    ["08080:080", { hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp" }],
  ];
  for (const [value, want] of cases) test(value, () => expect(parsePort(value)).toEqual(want as never));

  test("several, in order", () => {
    expect(parseNetwork(undefined, ["80", "8080:81", "53/udp"]).spec.ports.map((p) => `${p.hostPort}:${p.containerPort}/${p.proto}`)).toEqual([
      "0:80/tcp",
      "8080:81/tcp",
      "0:53/udp",
    ]);
  });
});

describe("-p refused", () => {
  const cases: [string, string][] = [
    ["", 'no container port: expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]'],
    ["8080:", "no container port: expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]"],
    ["0", "container port 0 is out of range (1-65535)"],
    ["0:80", "host port 0 is out of range (1-65535)"],
    ["8080:0", "container port 0 is out of range (1-65535)"],
    ["65536", "container port 65536 is out of range (1-65535)"],
    ["70000:80", "host port 70000 is out of range (1-65535)"],
    ["123456", 'not a container port: "123456"'],
    ["http", 'not a container port: "http"'],
    ["-1", 'not a container port: "-1"'],
    [" 80", 'not a container port: " 80"'],
    ["80.5", 'not a container port: "80.5"'],
    ["abc:80", 'not a host port: "abc"'],
    ["80/sctp", 'protocol "sctp": expected tcp or udp'],
    ["80/", 'protocol "": expected tcp or udp'],
    ["80/tcp/udp", 'not a container port: "80/tcp"'],
    ["8000-8010:80", "port ranges are not supported; give one -p per port"],
    ["8000-8010:80-90", "port ranges are not supported; give one -p per port"],
    ["80-90", "port ranges are not supported; give one -p per port"],
    ["256.0.0.1:80:80", 'not an IPv4 address: "256.0.0.1"'],
    ["1.2.3:80:80", 'not an IPv4 address: "1.2.3"'],
    ["localhost:80:80", 'not an IPv4 address: "localhost"'],
    ["127.0.0.1:80", '"127.0.0.1" is an address, not a port: expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]'],
    ["[::1]:8080:80", "IPv6 host addresses are not supported (cbox publishes on IPv4 only)"],
    ["::1:8080:80", "IPv6 host addresses are not supported (cbox publishes on IPv4 only)"],
    ["fe80::1:8080:80/udp", "IPv6 host addresses are not supported (cbox publishes on IPv4 only)"],
  ];
  for (const [value, why] of cases) {
    test(JSON.stringify(value), () => {
      const err = thrown(() => parseNetwork(undefined, [value]));
      expect(err.message).toBe(`-p "${value}": ${why}`);
      expect(err.message).not.toContain("\n");
    });
  }
});

describe("-p twice on one host port", () => {
  const refused: [string, string, string][] = [
    ["8080:80", "8080:81", "8080/tcp"],
    ["127.0.0.1:8080:80", "127.0.0.1:8080:81", "8080/tcp"],
    ["8080:80", "127.0.0.1:8080:81", "8080/tcp"],
    ["10.0.0.1:8080:80", "0.0.0.0:8080:81", "8080/tcp"],
    ["53:53/udp", "53:54/udp", "53/udp"],
  ];
  for (const [a, b, port] of refused) {
    test(`${a} then ${b}: refused`, () => {
      expect(thrown(() => parseNetwork(undefined, ["80", a, b])).message).toBe(`-p "${b}": host port ${port} is already published by -p "${a}"`);
    });
  }

  const allowed: [string, string][] = [
    ["8080:80", "8080:80/udp"],
    ["127.0.0.1:8080:80", "10.0.0.1:8080:80"],
    ["80", "80"],
    ["127.0.0.1::80", "127.0.0.1::80"],
  ];
  for (const [a, b] of allowed) test(`${a} and ${b}: allowed`, () => expect(parseNetwork(undefined, [a, b]).spec.ports).toHaveLength(2));
});
