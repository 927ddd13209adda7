import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerResolvConf, etcFiles, hostsFile, nameservers, resolvConf, writeEtcFiles } from "../../src/container/etc-files.ts";
import type { ContainerDirs } from "../../src/container/plan.ts";

describe("resolvConf", () => {
  test("drops loopback name servers, keeps the rest", () => {
    const host = [
      "# generated",
      "nameserver 127.0.0.53",
      "nameserver 1.1.1.1",
      "  nameserver 127.0.1.1",
      "nameserver ::1",
      "nameserver 2001:4860:4860::8888",
      "search example.com corp",
      "options edns0 trust-ad",
      "",
    ].join("\n");
    expect(resolvConf(host)).toBe(
      ["# generated", "nameserver 1.1.1.1", "nameserver 2001:4860:4860::8888", "search example.com corp", "options edns0 trust-ad", ""].join(
        "\n",
      ),
    );
  });

  test("a name server that only starts like loopback is kept", () => {
    expect(resolvConf("nameserver 10.127.0.1\nnameserver ::10\n")).toBe("nameserver 10.127.0.1\nnameserver ::10\n");
  });

  test("only loopback or empty input gives a lone newline", () => {
    expect(resolvConf("nameserver 127.0.0.53\n")).toBe("\n");
    expect(resolvConf("nameserver 0:0:0:0:0:0:0:1\n")).toBe("\n");
    expect(resolvConf("")).toBe("\n");
  });
});

// systemd-resolved's two files, as it writes them.
const STUB = [
  "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).",
  "nameserver 127.0.0.53",
  "options edns0 trust-ad",
  "search lan",
  "",
].join("\n");
const UPSTREAM = [
  "# This is /run/systemd/resolve/resolv.conf managed by man:systemd-resolved(8).",
  "nameserver 192.168.1.1",
  "nameserver fe80::1%eth0",
  "nameserver 9.9.9.9",
  "search lan corp.example",
  "",
].join("\n");

describe("containerResolvConf (a container with its own network)", () => {
  test("stub only + systemd's file: the real upstreams, IPv6 ones dropped", () => {
    expect(containerResolvConf({ etc: STUB, systemd: UPSTREAM })).toEqual({
      text: [
        "# This is /run/systemd/resolve/resolv.conf managed by man:systemd-resolved(8).",
        "nameserver 192.168.1.1",
        "nameserver 9.9.9.9",
        "search lan corp.example",
        "",
      ].join("\n"),
      noNameservers: false,
    });
  });

  test("mixed loopback and real servers: the host's file, loopback and IPv6 dropped, systemd's file not read", () => {
    const etc = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver 2001:db8::53\nsearch x\n";
    expect(containerResolvConf({ etc, systemd: UPSTREAM })).toEqual({ text: "nameserver 10.0.0.2\nsearch x\n", noNameservers: false });
  });

  test("several loopback servers count as a stub too", () => {
    expect(containerResolvConf({ etc: "nameserver 127.0.0.1\nnameserver ::1\n", systemd: "nameserver 8.8.4.4\n" }).text).toBe("nameserver 8.8.4.4\n");
  });

  test("no name server at all in /etc/resolv.conf: systemd's file when it exists", () => {
    expect(containerResolvConf({ etc: "search lan\n", systemd: "nameserver 8.8.4.4\n" }).text).toBe("nameserver 8.8.4.4\n");
    expect(containerResolvConf({ etc: "", systemd: undefined })).toEqual({ text: "\n", noNameservers: true });
  });

  test("stub only and no systemd file: nothing left, flagged, no public server added", () => {
    const r = containerResolvConf({ etc: STUB });
    expect(r).toEqual({ text: "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\noptions edns0 trust-ad\nsearch lan\n", noNameservers: true });
    expect(r.text).not.toContain("8.8.8.8");
  });

  test("systemd's file with only loopback or IPv6 servers: flagged", () => {
    expect(containerResolvConf({ etc: STUB, systemd: "nameserver 127.0.0.1\nnameserver 2001:db8::1\n" })).toEqual({ text: "\n", noNameservers: true });
  });

  test("given name servers replace the host's where the first one was; search and options stay", () => {
    expect(containerResolvConf({ etc: "# top\nsearch a\nnameserver 127.0.0.53\nnameserver 1.1.1.1\noptions ndots:2\n" }, ["10.0.2.3"])).toEqual({
      text: "# top\nsearch a\nnameserver 10.0.2.3\noptions ndots:2\n",
      noNameservers: false,
    });
  });

  test("given name servers with a stub host: systemd's search, the given servers", () => {
    expect(containerResolvConf({ etc: STUB, systemd: UPSTREAM }, ["10.0.2.3"]).text).toBe(
      "# This is /run/systemd/resolve/resolv.conf managed by man:systemd-resolved(8).\nnameserver 10.0.2.3\nsearch lan corp.example\n",
    );
  });

  test("given name servers and a host without any: appended", () => {
    expect(containerResolvConf({ etc: "search a\n" }, ["10.0.2.3", "10.0.2.4"]).text).toBe("search a\nnameserver 10.0.2.3\nnameserver 10.0.2.4\n");
    expect(containerResolvConf({ etc: "" }, ["10.0.2.3"]).text).toBe("nameserver 10.0.2.3\n");
  });

  test("an empty list of given name servers: none, flagged", () => {
    expect(containerResolvConf({ etc: "nameserver 1.1.1.1\n" }, [])).toEqual({ text: "\n", noNameservers: true });
  });

  test("nameservers() reads them", () => {
    expect(nameservers("# nameserver 1.2.3.4\nnameserver 1.1.1.1\n nameserver\t::1 \nnameserverx 2.2.2.2\n")).toEqual(["1.1.1.1", "::1"]);
  });
});

describe("hostsFile", () => {
  test("the hostname is on the 127.0.0.1 line", () => {
    const lines = hostsFile("mybox").split("\n");
    expect(lines[0]).toBe("127.0.0.1\tlocalhost mybox");
    expect(lines).toContain("::1\tlocalhost ip6-localhost ip6-loopback");
    expect(hostsFile("mybox").endsWith("\n")).toBe(true);
    expect(hostsFile("mybox", undefined, "web")).toBe(hostsFile("mybox"));
  });

  test("with an address, the hostname is on its line, last, as docker does", () => {
    expect(hostsFile("abc123", "10.88.0.2")).toBe(
      [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
        "10.88.0.2\tabc123",
        "",
      ].join("\n"),
    );
  });

  test("the name follows the hostname, once", () => {
    expect(hostsFile("abc123", "10.88.0.2", "web").split("\n").at(-2)).toBe("10.88.0.2\tabc123 web");
    expect(hostsFile("web", "10.88.0.2", "web").split("\n").at(-2)).toBe("10.88.0.2\tweb");
    expect(hostsFile("abc123", "10.88.0.2", "").split("\n").at(-2)).toBe("10.88.0.2\tabc123");
  });
});

describe("etcFiles", () => {
  const host = { hosts: "127.0.0.1 localhost\n192.168.1.5 myhost\n", resolv: { etc: STUB, systemd: UPSTREAM } };

  test("no network (none): today's files", () => {
    for (const network of [undefined, {}, { ip: undefined }]) {
      expect(etcFiles("box", network, "web", host)).toEqual({ hostname: "box\n", hosts: hostsFile("box"), resolvConf: resolvConf(STUB), noNameservers: false });
    }
  });

  test("bridge: an address line and the upstream servers", () => {
    const files = etcFiles("box", { ip: "10.88.0.7" }, "web", host);
    expect(files.hosts).toBe(hostsFile("box", "10.88.0.7", "web"));
    expect(nameservers(files.resolvConf)).toEqual(["192.168.1.1", "9.9.9.9"]);
    expect(files.noNameservers).toBe(false);
    expect(etcFiles("box", { ip: "10.88.0.7" }, undefined, { resolv: { etc: STUB } }).noNameservers).toBe(true);
  });

  test("slirp4netns: its address and its DNS", () => {
    const files = etcFiles("box", { ip: "10.0.2.100", nameservers: ["10.0.2.3"] }, undefined, host);
    expect(files.hosts.split("\n").at(-2)).toBe("10.0.2.100\tbox");
    expect(nameservers(files.resolvConf)).toEqual(["10.0.2.3"]);
  });

  test("host: the host's files as they are", () => {
    expect(etcFiles("box", { hostFiles: true, ip: "1.2.3.4" }, "web", host)).toEqual({ hostname: "box\n", hosts: host.hosts, resolvConf: STUB, noNameservers: false });
    expect(etcFiles("box", { hostFiles: true }, undefined, { resolv: { etc: "" } }).hosts).toBe(hostsFile("box"));
  });
});

describe("writeEtcFiles", () => {
  let dir: string;
  let dirs: ContainerDirs;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cbox-etc-"));
    dirs = { hostname: join(dir, "hostname"), hosts: join(dir, "hosts"), resolvConf: join(dir, "resolv.conf") } as ContainerDirs;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("writes the three files, world-readable", () => {
    const r = writeEtcFiles(dirs, "box", { ip: "10.88.0.2" }, "web");
    expect(readFileSync(dirs.hostname, "utf8")).toBe("box\n");
    expect(readFileSync(dirs.hosts, "utf8")).toBe(hostsFile("box", "10.88.0.2", "web"));
    expect(nameservers(readFileSync(dirs.resolvConf, "utf8")).every((s) => !s.startsWith("127.") && !s.includes(":"))).toBe(true);
    expect(typeof r.noNameservers).toBe("boolean");
    for (const f of [dirs.hostname, dirs.hosts, dirs.resolvConf]) expect(statSync(f).mode & 0o777).toBe(0o644);
  });

  test("without a network: as before", () => {
    expect(writeEtcFiles(dirs, "box")).toEqual({ noNameservers: false });
    expect(readFileSync(dirs.hosts, "utf8")).toBe(hostsFile("box"));
  });
});
