// Image layers through unpackArchive: compression found by its magic, both digests, whiteouts and
// opaque folders as overlayfs reads them, hard links kept inside the layer. Real files: the
// whiteouts and xattrs are checked on disk (stat, getfattr).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { CboxError } from "../../src/errors.ts";
import { unpackArchive } from "../../src/image/archive.ts";
import { makeTar, type Entry } from "../fixtures/hostile.ts";
import { underQemuUser } from "./helpers.ts";

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const asRoot = process.getuid!() === 0;

let tmp: string;
let root: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "cbox-layer-"));
  root = join(tmp, "diff");
  mkdirSync(root);
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

async function* chunks(bytes: Uint8Array, size = 1000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

function unpackLayer(bytes: Uint8Array) {
  return unpackArchive(chunks(bytes), root, { asRoot, layer: true, describe: "layer under test" });
}

function xattrs(path: string): string {
  const p = Bun.spawnSync(["getfattr", "-d", "-m", ".", "--absolute-names", path]);
  return p.stdout.toString();
}

const layer: Entry[] = [
  { name: "etc/", type: "directory" },
  { name: "etc/.wh.removed", content: "" },
  { name: "etc/kept", content: "kept\n" },
  { name: "opaque/", type: "directory" },
  { name: "opaque/.wh..wh..opq", content: "" },
  { name: "opaque/new", content: "new\n" },
  { name: ".wh..wh.plnk", type: "directory" },
  { name: ".wh..wh.plnk/1234.5", content: "aufs\n" },
  { name: "bin/", type: "directory" },
  { name: "bin/tool", content: "#!/bin/sh\n" },
  { name: "bin/alias", type: "link", linkname: "bin/tool" },
];

// Whiteouts and xattrs are made by a shim child, which qemu-user cannot clone: those tests run natively.
const made = test.skipIf(underQemuUser);

describe("unpackArchive, layer mode", () => {
  for (const [name, compress] of [
    ["plain", (b: Uint8Array) => b],
    ["gzip", (b: Uint8Array) => gzipSync(b)],
    ["zstd", (b: Uint8Array) => zstdCompressSync(b)],
  ] as const) {
    made(`${name}: the blob's digest and the tar stream's (diff_id)`, async () => {
      const tar = await makeTar(layer);
      const blob = new Uint8Array(compress(tar));
      const result = await unpackLayer(blob);
      expect(result.sha256).toBe(sha256(blob));
      expect(result.diffId).toBe(sha256(tar));
      expect(result.whiteouts).toBe(1);
      expect(result.opaque).toEqual(["opaque"]);
    });
  }

  made("a whiteout is a 0/0 character device in the name's place; aufs' .wh..wh. entries are left out", async () => {
    await unpackLayer(await makeTar(layer));
    const st = lstatSync(join(root, "etc/removed"));
    expect(st.mode & S_IFMT).toBe(S_IFCHR);
    expect(st.rdev).toBe(0);
    expect(readdirSync(join(root, "etc")).sort()).toEqual(["kept", "removed"]);
    expect(readdirSync(root).sort()).toEqual(["bin", "etc", "opaque"]);
  });

  made("an opaque folder carries overlayfs' xattr (trusted.* too when root), and no marker file", async () => {
    await unpackLayer(await makeTar(layer));
    const attrs = xattrs(join(root, "opaque"));
    expect(attrs).toContain('user.overlay.opaque="y"');
    if (asRoot) expect(attrs).toContain('trusted.overlay.opaque="y"');
    expect(readdirSync(join(root, "opaque"))).toEqual(["new"]);
    expect(xattrs(join(root, "etc"))).not.toContain("overlay.opaque");
  });

  made("a hard link within the layer is one file", async () => {
    await unpackLayer(await makeTar(layer));
    expect(statSync(join(root, "bin/alias")).ino).toBe(statSync(join(root, "bin/tool")).ino);
  });

  test("a hard link to a file the layer does not hold is refused, by name", async () => {
    const tar = await makeTar([{ name: "etc/", type: "directory" }, { name: "etc/shadow-copy", type: "link", linkname: "etc/shadow" }]);
    const err = await unpackLayer(tar).catch((e) => e);
    expect(err).toBeInstanceOf(CboxError);
    expect(err.message).toBe('refusing archive entry "etc/shadow-copy": hard link target "etc/shadow" is not a file earlier in this archive');
  });

  test("a whiteout named through a symlink is refused", async () => {
    const tar = await makeTar([{ name: "up", type: "symlink", linkname: "/etc" }, { name: "up/.wh.passwd", content: "" }]);
    const err = await unpackLayer(tar).catch((e) => e);
    expect(err.message).toContain('goes through the symlink "up"');
  });

  test("a zstd layer cut short is refused as damaged", async () => {
    const blob = zstdCompressSync(await makeTar([{ name: "big", content: "x".repeat(200_000) + Math.random() }]));
    const err = await unpackLayer(new Uint8Array(blob.subarray(0, blob.length - 50))).catch((e) => e);
    expect(err).toBeInstanceOf(CboxError);
    expect(err.message).toStartWith("layer under test: the archive is damaged or incomplete");
  });
});
