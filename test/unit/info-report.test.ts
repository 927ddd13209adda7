// cbox info's two forms: aligned text, and one JSON object.
import { describe, expect, test } from "bun:test";
import type { HostInfo } from "../../src/host/info.ts";
import { formatJson, formatText } from "../../src/host/report.ts";
import { alice, root } from "./info-host.ts";

const info: HostInfo = {
  version: "0.1.0",
  commit: "456ac70cb65b",
  host: { hostname: "web1", os: "Debian GNU/Linux 12 (bookworm)" },
  user: root,
  kernel: { release: "6.1.0-18-amd64", arch: "x86_64" },
  checks: [
    { name: "user namespaces", status: "ok", detail: "max_user_namespaces=63418" },
    { name: "newuidmap", status: "missing", detail: "not installed", fix: "apt-get install uidmap" },
  ],
  cgroups: { layout: "v2", unified: "/sys/fs/cgroup", controllers: ["cpu", "memory"] },
  storage: { root: "/var/lib/cbox", exists: true, filesystem: "ext4", mountPoint: "/", freeBytes: 1000, runtime: "/run/cbox", runtimeExists: false },
  containers: { running: 1, stopped: 2 },
  images: 3,
};

describe("cbox info output", () => {
  test("text: a header, then status, item and reason in columns, the fix after the reason", () => {
    expect(formatText(info)).toBe(
      [
        "cbox 0.1.0 (commit 456ac70cb65b) on web1 (Debian GNU/Linux 12 (bookworm)), as root",
        "ok       user namespaces    max_user_namespaces=63418",
        "missing  newuidmap          not installed; fix: apt-get install uidmap",
        "         containers         1 running, 2 stopped",
        "         images             3",
        "",
      ].join("\n"),
    );
  });

  test("text: a user is named with their uid; a longer item widens the column for all", () => {
    const text = formatText({ ...info, user: alice, host: { hostname: "", os: "" }, checks: [{ name: "a very long item name", status: "warn", detail: "d", fix: "f" }] });
    expect(text.split("\n").slice(0, 3)).toEqual(["cbox 0.1.0 (commit 456ac70cb65b) on this host, as alice (uid 1000)", "warn     a very long item name  d; fix: f", "         containers             1 running, 2 stopped"]);
  });

  test("json: one object with every part", () => {
    const parsed = JSON.parse(formatJson(info));
    expect(Object.keys(parsed)).toEqual(["version", "commit", "host", "user", "kernel", "checks", "cgroups", "storage", "containers", "images"]);
    expect(parsed.checks[1]).toEqual({ name: "newuidmap", status: "missing", detail: "not installed", fix: "apt-get install uidmap" });
    expect(parsed.checks[0].fix).toBeUndefined();
    expect([parsed.containers, parsed.images]).toEqual([{ running: 1, stopped: 2 }, 3]);
  });
});
