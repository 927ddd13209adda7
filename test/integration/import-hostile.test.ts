// cbox import against hostile archives: every escape is refused with one clear line, nothing is
// written outside the store and nothing half-written stays in it; a benign image keeps its links,
// modes, mtimes and owners.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { extract } from "tar-stream";
import { benignEntries, type Entry, type HostileCase, hostileCases, makeTar, mtimeDir, mtimeFile } from "../fixtures/hostile.ts";
import { cboxBin, isRoot, removeDir, tempDir } from "./helpers.ts";

// Made at load time: the hostile archives' names depend on it (so tests can have fixed titles).
const work = tempDir("cbox-hostile-");
const targets = join(work, "targets");
afterAll(() => removeDir(work));

let serial = 0;

/** A fresh storage root (not created: cbox makes what it needs) and a file name for the archive. */
function fresh(ext: "tar" | "tar.gz"): { root: string; file: string } {
  const n = serial++;
  return { root: join(work, `store-${n}`), file: join(work, `archive-${n}.${ext}`) };
}

/** The attack's own folder, with what the hostile cases aim at. */
function targetDir(slug: string): string {
  const dir = join(targets, slug);
  mkdirSync(join(dir, "symdir"), { recursive: true });
  writeFileSync(join(dir, "secret"), "secret\n");
  return dir;
}

function importArchive(file: string, root: string) {
  const res = Bun.spawnSync([cboxBin, "import", file, "evil:1", "--root", root], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  return { code: res.exitCode, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

/** The entry name as the refusal quotes it. */
function shown(name: string): string {
  return name.length > 100 ? `${name.slice(0, 100)}...` : name;
}

/** Everything under DIR/images (an empty list when the folder is missing or empty). */
function imagesListing(root: string): string[] {
  const images = join(root, "images");
  if (!existsSync(images)) return [];
  if (!lstatSync(images).isDirectory()) return ["images is not a folder"];
  return (readdirSync(images, { recursive: true }) as string[]).sort();
}

async function write(file: string, entries: Entry[], gzip: boolean): Promise<void> {
  const tar = await makeTar(entries);
  writeFileSync(file, gzip ? Bun.gzipSync(tar) : tar);
}

async function expectRefused(slug: string, build: HostileCase["build"], gzip = false) {
  const dir = targetDir(slug);
  const hostile = build(dir);
  const { root, file } = fresh(gzip ? "tar.gz" : "tar");
  await write(file, hostile.entries, gzip);
  const before = imagesListing(root);

  const r = importArchive(file, root);

  expect(r.stderr).toBe(`cbox: refusing archive entry "${shown(hostile.entry)}": ${hostile.reason}\n`);
  expect(r.stdout).toBe("");
  expect(r.code).toBe(125);
  for (const path of hostile.mustNotExist) expect({ path, exists: existsSync(path) }).toEqual({ path, exists: false });
  for (const path of hostile.mustKeepOneLink) expect({ path, nlink: statSync(path).nlink }).toEqual({ path, nlink: 1 });
  expect(readdirSync(join(dir, "symdir"))).toEqual([]);
  expect(imagesListing(root)).toEqual(before);
}

describe("the fixtures", () => {
  test("every hostile archive holds the names it means, long ones in full", async () => {
    for (const c of hostileCases) {
      const hostile = c.build("/tmp/cbox-hostile-fixture/targets/x");
      const names: string[] = [];
      const ex = extract();
      ex.on("entry", (header, stream, next) => {
        names.push(header.name);
        stream.on("end", next);
        stream.resume();
      });
      const done = new Promise((resolve, reject) => ex.on("finish", resolve).on("error", reject));
      ex.end(await makeTar(hostile.entries));
      await done;
      expect(names).toEqual(hostile.entries.map((e) => e.name));
      expect(names).toContain(hostile.entry);
    }
  });
});

describe("cbox import refuses hostile archives", () => {
  hostileCases.forEach((c, i) => {
    test(`refuses ${c.title}`, () => expectRefused(`case-${i}`, c.build));
  });

  test("refuses a path climbing out with .. in a .tar.gz", () => expectRefused("gz", hostileCases[0]!.build, true));
});

/** Imports the benign archive; returns the image's unpacked rootfs. */
async function importBenign(gzip: boolean, extra: Entry[] = []): Promise<string> {
  const { root, file } = fresh(gzip ? "tar.gz" : "tar");
  await write(file, [...benignEntries, ...extra], gzip);
  const r = importArchive(file, root);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: r.stderr });
  expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  // The store holds the one image, named by the id printed (the archive's sha256), and its tag.
  const id = r.stdout.trim().slice("sha256:".length);
  expect(readdirSync(join(root, "images")).sort()).toEqual([id, "tags"]);
  expect(readdirSync(join(root, "images", "tags"))).toEqual(["evil%3A1"]);
  expect(id).toBe(new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex"));
  return join(root, "images", id, "rootfs");
}

function expectBenignKept(rootfs: string) {
  const at = (p: string) => join(rootfs, p);
  const mode = (p: string) => lstatSync(at(p)).mode & 0o7777;
  const mtime = (p: string) => lstatSync(at(p)).mtimeMs;

  expect(readFileSync(at("bin/busybox"), "utf8")).toBe("#!/bin/true\n");
  expect(mode("bin/busybox")).toBe(0o4755);
  expect(lstatSync(at("bin/sh")).isSymbolicLink()).toBe(true);
  expect(readlinkSync(at("bin/sh"))).toBe("/bin/busybox");
  expect(lstatSync(at("usr/bin/env")).isSymbolicLink()).toBe(true);
  expect(readlinkSync(at("usr/bin/env"))).toBe("../../bin/busybox");
  expect(lstatSync(at("bin/ls")).ino).toBe(lstatSync(at("bin/busybox")).ino);
  expect(lstatSync(at("bin/busybox")).nlink).toBe(2);
  expect(mtime("etc/motd")).toBe(mtimeFile.getTime());
  expect(readFileSync(at("etc/motd"), "utf8")).toBe("welcome\n");
  expect(lstatSync(at("root")).isDirectory()).toBe(true);
  expect(mode("root")).toBe(0o700);
  expect(mtime("root")).toBe(mtimeDir.getTime());
  expect(readFileSync(at("root/.profile"), "utf8")).toBe("PS1='# '\n");
  expect(mode("home/user/notes")).toBe(0o600);
}

describe("cbox import keeps a benign image", () => {
  test("links, setuid, modes and mtimes survive a .tar", async () => {
    expectBenignKept(await importBenign(false));
  });

  test("links, setuid, modes and mtimes survive a .tar.gz", async () => {
    expectBenignKept(await importBenign(true));
  });

  test("a 255-byte name is fine", async () => {
    const name = "n".repeat(255);
    const rootfs = await importBenign(false, [{ name: `./etc/${name}`, content: "ok\n" }]);
    expect(readFileSync(join(rootfs, "etc", name), "utf8")).toBe("ok\n");
  });
});

describe.skipIf(!isRoot)("cbox import keeps owners (as root only)", () => {
  test("a file and a folder owned by 1234:5678 keep their owner", async () => {
    const rootfs = await importBenign(false);
    for (const p of ["home/user", "home/user/notes"]) {
      const st = lstatSync(join(rootfs, p));
      expect({ p, uid: st.uid, gid: st.gid }).toEqual({ p, uid: 1234, gid: 5678 });
    }
    expect(lstatSync(join(rootfs, "bin/busybox")).uid).toBe(0);
  });
});
