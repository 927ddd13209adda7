import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasFreezer, isFrozen, setFrozen, thawQuietly } from "../../src/linux/cgroups/freezer.ts";
import { FakeCgroupfs } from "./fake-cgroupfs.ts";
import { thrown } from "./helpers.ts";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cbox-freezer-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A v2 tree whose cgroup.events follows cgroup.freeze at once, as the kernel's does once every task stopped. */
class FreezingV2 extends FakeCgroupfs {
  override write(path: string, value: string): void {
    super.write(path, value);
    if (path.endsWith("/cgroup.freeze")) writeFileSync(path.replace(/cgroup\.freeze$/, "cgroup.events"), `populated 1\nfrozen ${value}\n`);
  }
}

describe("freezer", () => {
  test("v1: the cgroup in the freezer hierarchy is frozen and thawed through freezer.state; the others are left alone", () => {
    const fs = new FakeCgroupfs(root, 1, [["cpu"], ["freezer"], ["pids"]]);
    const paths = ["cpu", "freezer", "pids"].map((h) => `${fs.hierarchy([h])}/c1`);
    for (const p of paths) fs.mkdir(p);
    expect([hasFreezer(paths, fs), isFrozen(paths, fs)]).toEqual([true, false]);
    setFrozen(paths, true, fs);
    expect(isFrozen(paths, fs)).toBe(true);
    thawQuietly(paths, fs);
    expect(isFrozen(paths, fs)).toBe(false);
    expect(fs.log.filter((l) => l.startsWith("write"))).toEqual(["write freezer/c1/freezer.state FROZEN", "write freezer/c1/freezer.state THAWED"]);
  });

  test("v2: cgroup.freeze is written, cgroup.events tells when it is done", () => {
    const fs = new FreezingV2(root, 2, [["cpu", "memory"]]);
    const paths = [`${root}/c1`];
    fs.mkdir(paths[0]!);
    setFrozen(paths, true, fs);
    expect(isFrozen(paths, fs)).toBe(true);
    setFrozen(paths, false, fs);
    expect(isFrozen(paths, fs)).toBe(false);
    expect(fs.log.filter((l) => l.startsWith("write"))).toEqual(["write c1/cgroup.freeze 1", "write c1/cgroup.freeze 0"]);
  });

  test("a freeze that does not finish within a second is undone before its error (v2: cgroup.events never says frozen)", () => {
    const fs = new FakeCgroupfs(root, 2, [["cpu", "memory"]]);
    const paths = [`${root}/c1`];
    fs.mkdir(paths[0]!);
    writeFileSync(`${root}/c1/cgroup.events`, "populated 1\nfrozen 0\n");
    expect(thrown(() => setFrozen(paths, true, fs)).message).toBe("the container's processes did not freeze within a second");
    expect(fs.log.filter((l) => l.startsWith("write"))).toEqual(["write c1/cgroup.freeze 1", "write c1/cgroup.freeze 0"]);
  });

  test("cgroups without a freezer: not frozen, and freezing them is one clear error", () => {
    const fs = new FakeCgroupfs(root, 1, [["cpu"], ["pids"]]);
    const paths = ["cpu", "pids"].map((h) => `${fs.hierarchy([h])}/c1`);
    for (const p of paths) fs.mkdir(p);
    expect([hasFreezer(paths, fs), isFrozen(paths, fs), isFrozen([], fs)]).toEqual([false, false, false]);
    thawQuietly(paths, fs); // nothing to thaw: no write, no error
    expect(fs.log.filter((l) => l.startsWith("write"))).toEqual([]);
    expect(thrown(() => setFrozen(paths, true, fs)).message).toContain("has no freezer");
  });
});
