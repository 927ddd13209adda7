import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extract, pack, type Headers } from "tar-stream";
import { CboxError } from "../../src/errors.ts";
import { Unpacker, UnsafeEntryError, type UnpackSummary } from "../../src/image/unpack.ts";
import { makeTar } from "../fixtures/hostile.ts";
import { underQemuUser } from "./helpers.ts";

const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;
const OLD = new Date(1_000_000_000_000); // 2001
const NEW = new Date(1_700_000_000_000);

let tmp: string;
let root: string; // the image root: empty at first
let outside: string; // host files a careless extractor would touch
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "cbox-unpack-"));
  root = join(tmp, "root");
  outside = join(tmp, "outside");
  mkdirSync(root);
  mkdirSync(outside);
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** Raw headers (fifos, devices) that makeTar does not build; files get `content` (default empty). */
async function tarOf(headers: (Headers & { content?: string })[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const read = (async () => {
    for await (const c of p) chunks.push(Buffer.from(c));
  })();
  for (const { content, ...h } of headers) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      // without a body, pack() hands back a stream for a file's data and calls back only once it ends
      if (h.type === "file") p.entry({ mtime: NEW, ...h }, content ?? "", cb);
      else p.entry({ mtime: NEW, ...h }, cb);
    });
  }
  p.finalize();
  await read;
  return Buffer.concat(chunks);
}

async function unpack(tar: Buffer, asRoot = false): Promise<UnpackSummary> {
  const unpacker = new Unpacker(root, { asRoot });
  const ex = extract();
  ex.end(tar);
  for await (const entry of ex) await unpacker.add(entry);
  return unpacker.finish();
}

async function refusal(p: Promise<unknown>): Promise<CboxError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(UnsafeEntryError);
    return err as CboxError;
  }
  throw new Error("expected a refusal");
}

describe("Unpacker", () => {
  test("a plain image: files, folders, symlinks, hard links, modes and times", async () => {
    const summary = await unpack(
      await makeTar([
        { name: "./", type: "directory" },
        { name: "./etc/", type: "directory", mode: 0o750, mtime: OLD },
        { name: "./etc/motd", content: "welcome\n", mode: 0o640, mtime: OLD },
        { name: "./etc/link", type: "symlink", linkname: "motd" },
        { name: "./etc/hard", type: "link", linkname: "./etc/motd" },
      ]),
    );
    expect(summary).toEqual({ entries: 5, bytes: 8, skippedDevices: 0, opaque: [], whiteouts: 0 });
    expect(readFileSync(join(root, "etc/motd"), "utf8")).toBe("welcome\n");
    expect(statSync(join(root, "etc/motd")).mode & 0o7777).toBe(0o640);
    expect(statSync(join(root, "etc/motd")).mtimeMs).toBe(OLD.getTime());
    expect(statSync(join(root, "etc")).mode & 0o7777).toBe(0o750);
    expect(statSync(join(root, "etc")).mtimeMs).toBe(OLD.getTime()); // set after its children were written
    expect(readlinkSync(join(root, "etc/link"))).toBe("motd");
    expect(statSync(join(root, "etc/hard")).ino).toBe(statSync(join(root, "etc/motd")).ino);
  });

  test("a file replacing an earlier symlink does not write through it", async () => {
    const secret = join(outside, "secret");
    writeFileSync(secret, "host secret\n");
    chmodSync(secret, 0o600);
    await unpack(
      await makeTar([
        { name: "./", type: "directory" },
        { name: "./etc/", type: "directory" },
        { name: "./etc/passwd", type: "symlink", linkname: secret },
        { name: "./etc/passwd", content: "root:x:0:0::/root:/bin/sh\n", mode: 0o644 },
      ]),
    );
    expect(readFileSync(secret, "utf8")).toBe("host secret\n");
    expect(statSync(secret).mode & 0o7777).toBe(0o600);
    const st = lstatSync(join(root, "etc/passwd"));
    expect(st.isFile()).toBe(true);
    expect(st.isSymbolicLink()).toBe(false);
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).toBe("root:x:0:0::/root:/bin/sh\n");
  });

  test("a file replacing a dangling symlink does not create its target", async () => {
    const target = join(outside, "created");
    await unpack(
      await makeTar([
        { name: "./x", type: "symlink", linkname: target },
        { name: "./x", content: "inside\n" },
      ]),
    );
    expect(existsSync(target)).toBe(false);
    expect(readFileSync(join(root, "x"), "utf8")).toBe("inside\n");
  });

  test("a folder replaced by a symlink later is not chmod'ed or touched through it at finish", async () => {
    chmodSync(outside, 0o751);
    utimesSync(outside, OLD, OLD);
    await unpack(
      await makeTar([
        { name: "./", type: "directory" },
        { name: "./d/", type: "directory", mode: 0o700, mtime: NEW },
        { name: "./d", type: "symlink", linkname: outside },
      ]),
    );
    expect(lstatSync(join(root, "d")).isSymbolicLink()).toBe(true);
    expect(statSync(outside).mode & 0o7777).toBe(0o751);
    expect(statSync(outside).mtimeMs).toBe(OLD.getTime());
  });

  // A folder replaced later by a symlink must not be reached through it at finish():
  // "./a/", "./a/b/", then "./a" -> outside; the outside b must keep its mode and times.
  test("a folder's subfolder is not chmod'ed through a symlink that replaced the folder", async () => {
    const victim = join(outside, "b");
    mkdirSync(victim);
    chmodSync(victim, 0o751);
    utimesSync(victim, OLD, OLD);
    await unpack(
      await makeTar([
        { name: "./", type: "directory" },
        { name: "./a/", type: "directory" },
        { name: "./a/b/", type: "directory", mode: 0o777, mtime: NEW },
        { name: "./a", type: "symlink", linkname: outside },
      ]),
    );
    expect(lstatSync(join(root, "a")).isSymbolicLink()).toBe(true);
    expect(statSync(victim).mode & 0o7777).toBe(0o751);
    expect(statSync(victim).mtimeMs).toBe(OLD.getTime());
  });

  test("a fifo under a folder later replaced by a symlink is not made through it", async () => {
    await unpack(
      await tarOf([
        { name: "./a/", type: "directory", mode: 0o755 },
        { name: "./a/fifo", type: "fifo", mode: 0o644 },
        { name: "./a", type: "symlink", linkname: outside, mode: 0o777 },
      ]),
    );
    expect(existsSync(join(outside, "fifo"))).toBe(false);
  });

  // mknod runs in a child in its own namespaces (src/sys/nodes.ts).
  test.skipIf(underQemuUser)("a FIFO entry is made, without asRoot", async () => {
    const summary = await unpack(
      await tarOf([
        { name: "./run/", type: "directory", mode: 0o755 },
        { name: "./run/pipe", type: "fifo", mode: 0o640 },
      ]),
    );
    const st = lstatSync(join(root, "run/pipe"));
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & S_IFMT).toBe(S_IFIFO);
    expect(st.mode & 0o7777).toBe(0o640);
    expect(summary).toEqual({ entries: 2, bytes: 0, skippedDevices: 0, opaque: [], whiteouts: 0 });
  });

  test("device nodes are skipped and counted without asRoot; later entries still come", async () => {
    const summary = await unpack(
      await tarOf([
        { name: "./dev/", type: "directory", mode: 0o755 },
        { name: "./dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
        { name: "./dev/sda", type: "block-device", devmajor: 8, devminor: 0, mode: 0o660 },
        { name: "./etc/motd", type: "file", mode: 0o644, content: "hi\n" },
      ]),
    );
    expect(existsSync(join(root, "dev/null"))).toBe(false);
    expect(existsSync(join(root, "dev/sda"))).toBe(false);
    expect(lstatSync(join(root, "dev")).isDirectory()).toBe(true);
    expect(readFileSync(join(root, "etc/motd"), "utf8")).toBe("hi\n");
    expect(summary).toEqual({ entries: 4, bytes: 3, skippedDevices: 2, opaque: [], whiteouts: 0 });
  });

  test("the root itself as a file is refused", async () => {
    for (const name of [".", "./.", "/./"]) {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root);
      const err = await refusal(unpack(await tarOf([{ name, type: "file", mode: 0o644, content: "x" }])));
      if (name === "/./") expect(err.message).toBe('refusing archive entry "/./": path leaves the image root');
      else expect(err.message).toBe(`refusing archive entry "${name}": path names the image root itself`);
      expect(lstatSync(root).isDirectory()).toBe(true);
    }
  });

  test("the root itself as a symlink is refused, and the root stays a folder", async () => {
    const err = await refusal(unpack(await makeTar([{ name: "./", type: "directory" }, { name: ".", type: "symlink", linkname: outside }])));
    expect(err.message).toBe('refusing archive entry ".": path names the image root itself');
    expect(lstatSync(root).isDirectory()).toBe(true);
  });

  test("the root as a directory entry sets the root's mode", async () => {
    await unpack(await makeTar([{ name: "./", type: "directory", mode: 0o711 }]));
    expect(statSync(root).mode & 0o7777).toBe(0o711);
  });
});
