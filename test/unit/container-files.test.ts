// The file side of cp, export and diff without a container: lookups inside a root that no link
// can leave, the archive a source becomes, how one merges into a folder, and the overlay's view
// of layer folders.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { archiveSource, extractCopy, findSource } from "../../src/container/files/copy-side.ts";
import { LayerStack } from "../../src/container/files/layer-stack.ts";
import { RootFolder, statAt } from "../../src/container/files/root-folder.ts";
import { resolveInRoot } from "../../src/container/target-path.ts";
import { tarEntries } from "../../src/image/tar-reader.ts";
import { TarWriter } from "../../src/image/tar-writer.ts";
import { setXattrs } from "../../src/sys/nodes.ts";
import { CboxError } from "../../src/errors.ts";
import { underQemuUser } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "cbox-files-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const isRoot = process.getuid!() === 0;

/** A folder holding files (content), folders (ending in /) and symlinks ("-> target"). */
function tree(name: string, entries: Record<string, string>): string {
  const root = join(tmp, name);
  mkdirSync(root, { recursive: true });
  for (const [path, what] of Object.entries(entries)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    if (path.endsWith("/")) mkdirSync(join(root, path), { recursive: true });
    else if (what.startsWith("-> ")) symlinkSync(what.slice(3), join(root, path));
    else writeFileSync(join(root, path), what);
  }
  return root;
}

function withRoot<T>(path: string, work: (root: RootFolder) => T): T {
  const root = new RootFolder(path, "in the test root");
  try {
    return work(root);
  } finally {
    root.close();
  }
}

/** The source as cbox cp archives it: [name, type, content or link] per entry. */
async function archive(rootPath: string, src: string, follow = false): Promise<{ bytes: Uint8Array; entries: [string, string, string][] }> {
  const chunks: Uint8Array[] = [];
  const root = new RootFolder(rootPath, "in the test root");
  try {
    const tar = new TarWriter((c) => void chunks.push(c));
    await archiveSource(root, findSource(root, src, follow), tar);
    await tar.finish();
  } finally {
    root.close();
  }
  const bytes = Buffer.concat(chunks);
  const entries: [string, string, string][] = [];
  for await (const e of tarEntries(from(bytes), "test")) {
    let text = "";
    for await (const c of e) text += Buffer.from(c).toString();
    entries.push([e.header.name, e.header.type ?? "", e.header.linkname || text]);
  }
  return { bytes, entries };
}

async function* from(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function extract(rootPath: string, dest: string, bytes: Uint8Array, asIs = false): Promise<void> {
  const root = new RootFolder(rootPath, "in the test root");
  try {
    await extractCopy(root, dest, tarEntries(from(bytes), "test"), { owners: "own", asIs });
  } finally {
    root.close();
  }
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CboxError);
    return (err as Error).message;
  }
  throw new Error("expected a rejection");
}

describe("lookups inside a root", () => {
  const root = tree("hostile", {
    "etc/shadow": "the root's own shadow\n",
    "x": "-> /",
    "up": "-> ../../../../../../..",
    "loop": "-> loop",
    "file": "plain\n",
  });

  test("resolveInRoot: absolute links start at the root, .. stops at it, missing parts stay", () => {
    expect(resolveInRoot(root, "/x/etc/shadow")).toBe("/etc/shadow");
    expect(resolveInRoot(root, "/up/etc/shadow")).toBe("/etc/shadow");
    expect(resolveInRoot(root, "/x/new/deep")).toBe("/new/deep");
    expect(resolveInRoot(root, "/file/x")).toBe("/file/x");
  });

  test("RootFolder.find reaches the root's own files through links that point out of it", () => {
    const own = statSync(join(root, "etc/shadow")).ino;
    withRoot(root, (r) => {
      for (const path of ["/x/etc/shadow", "/up/etc/shadow", "/x/x/up/../etc/shadow", "etc/../../etc/shadow"]) {
        expect(statAt(r.find(path, false))?.ino, path).toBe(own);
      }
      // The last link is the link itself unless followed: x stays x, -L reaches the root.
      expect(statAt(r.find("/x", false))?.isSymbolicLink()).toBe(true);
      expect(r.find("/x", true)).toMatchObject({ name: ".", shown: "/" });
    });
  });

  test("a missing or non-folder part, and a loop, are one line each", () => {
    withRoot(root, (r) => {
      expect(() => r.find("/nope/x", false)).toThrow("/nope/x: /nope does not exist in the test root");
      expect(() => r.find("/file/x", false)).toThrow("/file/x: /file is not a folder in the test root");
      expect(() => r.find("/loop/x", false)).toThrow("/loop/x: too many levels of symbolic links");
    });
  });
});

describe("archive and merge, as cp's two sides", () => {
  const src = tree("src", { "app/bin/run": "#!/bin/sh\n", "app/conf": "a=1\n", "app/link": "-> /etc/passwd", "app/empty/": "" });
  linkSync(join(src, "app/conf"), join(src, "app/conf-again"));

  test("a folder goes as its own name first, then what it holds, sorted; links stay links, a second name a hard link", async () => {
    const { entries } = await archive(src, "/app");
    expect(entries).toEqual([
      ["app/", "directory", ""],
      ["app/bin/", "directory", ""],
      ["app/bin/run", "file", "#!/bin/sh\n"],
      ["app/conf", "file", "a=1\n"],
      ["app/conf-again", "link", "app/conf"],
      ["app/empty/", "directory", ""],
      ["app/link", "symlink", "/etc/passwd"],
    ]);
    expect((await archive(src, "/app/.")).entries.map((e) => e[0])).toEqual(["./", "./bin/", "./bin/run", "./conf", "./conf-again", "./empty/", "./link"]);
    expect((await archive(src, "/app/link")).entries).toEqual([["link", "symlink", "/etc/passwd"]]);
  });

  test("docker's placement: into a folder, as a new name, contents merged, a file overwritten", async () => {
    const { bytes } = await archive(src, "/app");
    const dest = tree("dest1", { "have/old": "old\n", "file": "was\n" });
    await extract(dest, "/have", bytes);
    expect(readFileSync(join(dest, "have/app/conf"), "utf8")).toBe("a=1\n");
    expect(statSync(join(dest, "have/app/conf-again")).ino).toBe(statSync(join(dest, "have/app/conf")).ino);
    expect(readlinkSync(join(dest, "have/app/link"))).toBe("/etc/passwd");
    await extract(dest, "/renamed", bytes);
    expect(existsSync(join(dest, "renamed/bin/run"))).toBe(true);
    await extract(dest, "/have/", (await archive(src, "/app/.")).bytes);
    expect(readFileSync(join(dest, "have/conf"), "utf8")).toBe("a=1\n");
    expect(readFileSync(join(dest, "have/old"), "utf8")).toBe("old\n");
    await extract(dest, "/file", (await archive(src, "/app/conf")).bytes);
    expect(readFileSync(join(dest, "file"), "utf8")).toBe("a=1\n");
  });

  test("a folder never replaces a non-folder, nor the other way; nothing is written through the destination's links", async () => {
    const outside = tree("outside", {});
    const dest = tree("dest2", { "app": "-> " + outside, "conf/": "" });
    const { bytes } = await archive(src, "/app");
    const folderOverLink = await rejection(extract(dest, "/", bytes));
    expect(folderOverLink).toBe("cannot overwrite /app, which is not a folder, with a folder");
    expect(await rejection(extract(dest, "/", (await archive(src, "/app/conf")).bytes))).toBe("cannot overwrite the folder /conf with a non-folder");
    expect(lstatSync(join(dest, "app")).isSymbolicLink()).toBe(true);
    expect(Bun.spawnSync(["ls", "-A", outside]).stdout.toString()).toBe("");
  });

  test("a destination link is followed inside the root: a copy into /x/ (x -> /) lands in the root", async () => {
    const dest = tree("dest3", { "x": "-> /", "tmp/": "" });
    await extract(dest, "/x/tmp", (await archive(src, "/app/conf")).bytes);
    expect(readFileSync(join(dest, "tmp/conf"), "utf8")).toBe("a=1\n");
  });

  test("a tar from stdin goes into an existing folder as its entries are named", async () => {
    const { bytes } = await archive(src, "/app");
    const dest = tree("dest4", { "in/": "", "file": "x" });
    await extract(dest, "/in", bytes, true);
    expect(readFileSync(join(dest, "in/app/conf"), "utf8")).toBe("a=1\n");
    expect(await rejection(extract(dest, "/file", bytes, true))).toBe("/file must be an existing folder in the test root to extract a tar archive into");
  });
});

// Whiteouts are made with mknod and the opaque xattr in a forked child: root, and not under qemu-user (which refuses the clone).
describe.skipIf(!isRoot || underQemuUser)("LayerStack: layer folders as the overlay shows them", () => {
  let lower = "";
  let upper = "";
  beforeAll(() => {
    lower = tree("lower", { "etc/passwd": "lower\n", "etc/group": "lower\n", "srv/old": "old\n", "gone/x": "x\n" });
    upper = tree("upper", { "etc/passwd": "upper\n", "srv/new": "new\n" });
    expect(Bun.spawnSync(["mknod", join(upper, "etc/group"), "c", "0", "0"]).exitCode).toBe(0);
    expect(Bun.spawnSync(["mknod", join(upper, "gone"), "c", "0", "0"]).exitCode).toBe(0);
    expect(setXattrs([{ path: join(upper, "srv"), name: "trusted.overlay.opaque", value: "y" }])).toBeNull();
  });

  test("the topmost layer wins, a whiteout hides what is below, an opaque folder merges nothing", () => {
    const stack = new LayerStack([upper, lower], "trusted.overlay.opaque");
    try {
      const root = stack.root();
      const top = stack.list(root);
      expect(top.filter(([, e]) => !e.whiteout).map(([n]) => n)).toEqual(["etc", "srv"]);
      const etc = stack.open(stack.find(root, "etc")!, root);
      expect(stack.list(etc).map(([n, e]) => `${n}:${e.whiteout ? "deleted" : e.layer}`)).toEqual(["group:deleted", "passwd:0"]);
      expect(stack.find(etc, "group")).toBeUndefined();
      const srv = stack.open(stack.find(root, "srv")!, root);
      expect(stack.list(srv).map(([n]) => n)).toEqual(["new"]);
      for (const f of [etc, srv]) stack.closeFolder(f);
    } finally {
      stack.close();
    }
  });

  test("the same layers read with the other xattr name see no opaque folder", () => {
    const stack = new LayerStack([upper, lower], "user.overlay.opaque");
    try {
      const root = stack.root();
      const srv = stack.open(stack.find(root, "srv")!, root);
      expect(stack.list(srv).map(([n]) => n)).toEqual(["new", "old"]);
      stack.closeFolder(srv);
    } finally {
      stack.close();
    }
  });
});
