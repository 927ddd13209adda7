import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allocateAddress, leasesOf, leasesPath, readLeases, releaseAddress, withNetworkLock } from "../../src/container/network/ipam.ts";
import { thrown } from "./helpers.ts";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cbox-ipam-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const alive = () => true;
const SUBNET = "10.88.0.0/16";

describe("allocateAddress", () => {
  test("starts after the gateway, one after another, and records them", () => {
    expect(allocateAddress(root, "a", SUBNET, alive)).toBe("10.88.0.2");
    expect(allocateAddress(root, "b", SUBNET, alive)).toBe("10.88.0.3");
    expect(readLeases(root)).toEqual({ subnet: SUBNET, leases: { "10.88.0.2": "a", "10.88.0.3": "b" }, last: "10.88.0.3" });
    expect(statSync(leasesPath(root)).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, "network")).mode & 0o777).toBe(0o700);
    // Written by a rename: no temp file is left.
    expect(readdirSync(join(root, "network")).sort()).toEqual(["leases.json", "lock"]);
  });

  test("the same id again keeps its address", () => {
    expect(allocateAddress(root, "a", SUBNET, alive)).toBe("10.88.0.2");
    expect(allocateAddress(root, "b", SUBNET, alive)).toBe("10.88.0.3");
    expect(allocateAddress(root, "a", SUBNET, () => false)).toBe("10.88.0.2");
    expect(leasesOf(root, "a")).toEqual(["10.88.0.2"]);
  });

  test("round robin: a released address is not the next one handed out", () => {
    allocateAddress(root, "a", SUBNET, alive);
    allocateAddress(root, "b", SUBNET, alive);
    releaseAddress(root, "a");
    expect(allocateAddress(root, "c", SUBNET, alive)).toBe("10.88.0.4");
  });

  test("leases of containers that no longer run come back, but after the last one handed out", () => {
    for (const id of ["a", "b", "c"]) allocateAddress(root, id, SUBNET, alive);
    const asked: string[] = [];
    const ip = allocateAddress(root, "d", SUBNET, (id) => {
      asked.push(id);
      return id !== "b";
    });
    expect(ip).toBe("10.88.0.5");
    expect(asked.sort()).toEqual(["a", "b", "c"]);
    expect(readLeases(root)!.leases).toEqual({ "10.88.0.2": "a", "10.88.0.4": "c", "10.88.0.5": "d" });
  });

  test("wraps around past the end, skipping the broadcast, network and gateway addresses", () => {
    const subnet = "192.168.7.0/29"; // .1 gateway, .2-.6 containers, .7 broadcast
    const got = ["a", "b", "c", "d", "e"].map((id) => allocateAddress(root, id, subnet, alive));
    expect(got).toEqual(["192.168.7.2", "192.168.7.3", "192.168.7.4", "192.168.7.5", "192.168.7.6"]);
    releaseAddress(root, "b");
    releaseAddress(root, "d");
    expect(allocateAddress(root, "f", subnet, alive)).toBe("192.168.7.3");
    expect(allocateAddress(root, "g", subnet, alive)).toBe("192.168.7.5");
  });

  test("a full subnet is an error and changes nothing", () => {
    const subnet = "192.168.7.0/29";
    for (const id of ["a", "b", "c", "d", "e"]) allocateAddress(root, id, subnet, alive);
    const before = readFileSync(leasesPath(root), "utf8");
    expect(thrown(() => allocateAddress(root, "f", subnet, alive)).message).toBe("no free address in 192.168.7.0/29");
    expect(readFileSync(leasesPath(root), "utf8")).toBe(before);
    // One holder gone: its address is the one left.
    expect(allocateAddress(root, "f", subnet, (id) => id !== "c")).toBe("192.168.7.4");
  });

  test("a /30 holds one container; a /31 or /32 none", () => {
    expect(allocateAddress(root, "a", "10.1.2.4/30", alive)).toBe("10.1.2.6");
    expect(thrown(() => allocateAddress(root, "b", "10.1.2.4/30", alive)).message).toBe("no free address in 10.1.2.4/30");
    const other = mkdtempSync(join(tmpdir(), "cbox-ipam-"));
    try {
      expect(thrown(() => allocateAddress(other, "a", "10.1.2.4/31", alive)).message).toBe("no free address in 10.1.2.4/31");
      expect(thrown(() => allocateAddress(other, "a", "10.1.2.4/32", alive)).message).toBe("no free address in 10.1.2.4/32");
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test("a last address outside the subnet's range starts from the beginning", () => {
    mkdirSync(join(root, "network"));
    writeFileSync(leasesPath(root), JSON.stringify({ subnet: SUBNET, leases: {}, last: "10.88.255.255" }));
    expect(allocateAddress(root, "a", SUBNET, alive)).toBe("10.88.0.2");
    writeFileSync(leasesPath(root), JSON.stringify({ subnet: SUBNET, leases: {}, last: "" }));
    expect(allocateAddress(root, "a", SUBNET, alive)).toBe("10.88.0.2");
  });

  test("a changed subnet drops the old leases when none is alive", () => {
    allocateAddress(root, "a", SUBNET, alive);
    allocateAddress(root, "b", SUBNET, alive);
    expect(allocateAddress(root, "c", "10.89.0.0/16", () => false)).toBe("10.89.0.2");
    expect(readLeases(root)).toEqual({ subnet: "10.89.0.0/16", leases: { "10.89.0.2": "c" }, last: "10.89.0.2" });
  });

  test("a changed subnet with a live holder is refused, naming it", () => {
    allocateAddress(root, "0123456789abcdef0123", SUBNET, alive);
    allocateAddress(root, "fedcba9876543210fedc", SUBNET, alive);
    const before = readFileSync(leasesPath(root), "utf8");
    const err = thrown(() => allocateAddress(root, "c", "10.89.0.0/16", (id) => id.startsWith("0123")));
    expect(err.message).toBe("the bridge's subnet is now 10.89.0.0/16, but containers still hold addresses in 10.88.0.0/16: 0123456789ab; stop them first");
    expect(readFileSync(leasesPath(root), "utf8")).toBe(before);
  });

  test("a changed subnet drops the caller's own old lease", () => {
    allocateAddress(root, "a", SUBNET, alive);
    expect(allocateAddress(root, "a", "10.89.0.0/16", alive)).toBe("10.89.0.2");
    expect(leasesOf(root, "a")).toEqual(["10.89.0.2"]);
  });

  test("a bad subnet argument is refused", () => {
    for (const subnet of ["10.88.0.1/16", "10.88.0.0", "x"]) {
      expect(thrown(() => allocateAddress(root, "a", subnet, alive)).message).toBe(`not a subnet: "${subnet}"`);
    }
    expect(existsSync(leasesPath(root))).toBe(false);
  });

  test("a file that is not a lease file is refused, not overwritten", () => {
    mkdirSync(join(root, "network"));
    for (const text of ["{", "[]", "null", '{"subnet":"10.88.0.0/16","leases":{},"last":3}', '{"subnet":"x","leases":{},"last":""}', '{"subnet":"10.88.0.0/16","leases":{"nope":"a"},"last":""}', '{"subnet":"10.88.0.0/16","leases":{"10.88.0.2":5},"last":""}']) {
      writeFileSync(leasesPath(root), text);
      expect(thrown(() => allocateAddress(root, "a", SUBNET, alive)).message).toBe(`${leasesPath(root)} is not a lease file: remove it when no container with a network runs`);
      expect(readFileSync(leasesPath(root), "utf8")).toBe(text);
    }
  });
});

describe("releaseAddress and leasesOf", () => {
  test("frees every lease of the id and only those", () => {
    mkdirSync(join(root, "network"));
    writeFileSync(leasesPath(root), JSON.stringify({ subnet: SUBNET, leases: { "10.88.0.2": "a", "10.88.0.3": "b", "10.88.0.9": "a" }, last: "10.88.0.9" }));
    expect(leasesOf(root, "a").sort()).toEqual(["10.88.0.2", "10.88.0.9"]);
    releaseAddress(root, "a");
    expect(readLeases(root)).toEqual({ subnet: SUBNET, leases: { "10.88.0.3": "b" }, last: "10.88.0.9" });
    expect(leasesOf(root, "a")).toEqual([]);
    expect(leasesOf(root, "b")).toEqual(["10.88.0.3"]);
  });

  test("twice, an unknown id, or no file at all: fine", () => {
    releaseAddress(root, "a");
    expect(existsSync(join(root, "network"))).toBe(false);
    expect(leasesOf(root, "a")).toEqual([]);
    allocateAddress(root, "a", SUBNET, alive);
    releaseAddress(root, "zzz");
    releaseAddress(root, "a");
    releaseAddress(root, "a");
    expect(readLeases(root)!.leases).toEqual({});
  });
});

describe("withNetworkLock", () => {
  test("returns fn's value; nested calls (and allocation inside) do not wait on themselves", () => {
    const ip = withNetworkLock(root, () => withNetworkLock(root, () => allocateAddress(root, "a", SUBNET, alive)));
    expect(ip).toBe("10.88.0.2");
    // Released: another process can take it now.
    const r = Bun.spawnSync(["bun", "-e", `require(${JSON.stringify(join(import.meta.dir, "../../src/container/network/ipam.ts"))}).withNetworkLock(${JSON.stringify(root)}, () => console.log("in"))`]);
    expect(r.stdout.toString()).toBe("in\n");
  });

  test("an error from fn goes through and leaves the lock free", () => {
    expect(() => withNetworkLock(root, () => { throw new Error("boom"); })).toThrow("boom");
    expect(withNetworkLock(root, () => 7)).toBe(7);
  });

  test("another process waits for it", async () => {
    const script = `require(${JSON.stringify(join(import.meta.dir, "../../src/container/network/ipam.ts"))}).withNetworkLock(${JSON.stringify(root)}, () => console.log(Date.now()))`;
    let child: ReturnType<typeof Bun.spawn> | undefined;
    const released = withNetworkLock(root, () => {
      child = Bun.spawn(["bun", "-e", script], { stdout: "pipe" });
      Bun.sleepSync(600);
      return Date.now();
    });
    const entered = Number(await new Response(child!.stdout as ReadableStream).text());
    expect(entered).toBeGreaterThanOrEqual(released);
  });
});

describe("concurrent allocators", () => {
  test("20 processes at once get 20 distinct addresses", async () => {
    const fixture = join(import.meta.dir, "../fixtures/allocate-address.ts");
    const children = Array.from({ length: 20 }, (_, i) => Bun.spawn(["bun", fixture, root, `c${i}`, "10.88.0.0/24"], { stdout: "pipe", stderr: "pipe" }));
    const outputs = await Promise.all(children.map(async (c) => ({ out: await new Response(c.stdout).text(), err: await new Response(c.stderr).text(), code: await c.exited })));
    for (const o of outputs) expect({ code: o.code, err: o.err }).toEqual({ code: 0, err: "" });
    const ips = outputs.map((o) => o.out.trim());
    expect(new Set(ips).size).toBe(20);
    expect(ips.map((ip) => Number(ip.split(".")[3])).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    const leases = readLeases(root)!.leases;
    expect(Object.keys(leases)).toHaveLength(20);
    for (let i = 0; i < 20; i++) expect(leases[ips[i]!]).toBe(`c${i}`);
  }, 30000);
});
