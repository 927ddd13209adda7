import { describe, expect, test } from "bun:test";
import { hostsFile, resolvConf } from "../../src/container/etc-files.ts";

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
    expect(resolvConf("")).toBe("\n");
  });
});

describe("hostsFile", () => {
  test("the hostname is on the 127.0.0.1 line", () => {
    const lines = hostsFile("mybox").split("\n");
    expect(lines[0]).toBe("127.0.0.1\tlocalhost mybox");
    expect(lines).toContain("::1\tlocalhost ip6-localhost ip6-loopback");
    expect(hostsFile("mybox").endsWith("\n")).toBe(true);
  });
});
