import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readImageFile } from "../../src/container/image-files.ts";

const tmp = mkdtempSync(join(tmpdir(), "cbox-image-files-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A layer as the store holds it: LAYER/diff, with LAYER/layer.json naming its opaque folders. */
function layer(name: string, files: Record<string, string>, opaque: string[] = []): string {
  const diff = join(tmp, name, "diff");
  mkdirSync(diff, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(diff, path, ".."), { recursive: true });
    writeFileSync(join(diff, path), text);
  }
  writeFileSync(join(tmp, name, "layer.json"), JSON.stringify({ opaque }));
  return diff;
}

/** A whiteout as overlayfs has it: a 0/0 character device (mknod needs root). */
function whiteout(diff: string, path: string): void {
  mkdirSync(join(diff, path, ".."), { recursive: true });
  expect(Bun.spawnSync(["mknod", join(diff, path), "c", "0", "0"]).exitCode).toBe(0);
}

describe.skipIf(process.getuid!() !== 0)("readImageFile: a file as the container's overlay will show it", () => {
  const base = layer("base", { "etc/passwd": "base-passwd\n", "etc/group": "base-group\n", "etc/hosts": "base-hosts\n" });

  test("the topmost layer that has it wins; below, the next", () => {
    const top = layer("top1", { "etc/passwd": "top-passwd\n" });
    expect(readImageFile([top, base], "/etc/passwd")).toBe("top-passwd\n");
    expect(readImageFile([top, base], "/etc/group")).toBe("base-group\n");
    expect(readImageFile([top, base], "/etc/shadow")).toBe("");
  });

  test("a whiteout of the file, or of a folder on its path, hides it below", () => {
    const top = layer("top2", {});
    whiteout(top, "etc/passwd");
    expect(readImageFile([top, base], "/etc/passwd")).toBe("");
    expect(readImageFile([top, base], "/etc/group")).toBe("base-group\n");
    const gone = layer("top3", {});
    whiteout(gone, "etc");
    expect(readImageFile([gone, base], "/etc/group")).toBe("");
  });

  test("an opaque folder hides what lies below it, not what it holds", () => {
    const top = layer("top4", { "etc/hosts": "top-hosts\n" }, ["etc"]);
    expect(readImageFile([top, base], "/etc/hosts")).toBe("top-hosts\n");
    expect(readImageFile([top, base], "/etc/passwd")).toBe("");
  });
});
