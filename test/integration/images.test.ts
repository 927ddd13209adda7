// cbox import, images and rmi; device nodes in image archives as root and rootless.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTar } from "../fixtures/hostile.ts";
import { buildRootfs, cbox, cboxBin, isRoot, removeDir, tempDir, treeListing } from "./helpers.ts";

let work: string;
let tarball: string;
let n = 0;
const freshRoot = () => join(work, `store-${++n}`);

beforeAll(() => {
  work = tempDir();
  tarball = join(work, "rootfs.tar.gz");
  buildRootfs(join(work, "rootfs"));
  Bun.spawnSync(["sh", join(import.meta.dir, "../../rootfs/build.sh"), join(work, "rootfs"), tarball]);
});
afterAll(() => removeDir(work));

const importAs = (root: string, name: string) => cbox(["import", "--root", root, tarball, name]);

describe.skipIf(!isRoot)("import, images, rmi", () => {
  test("an imported archive is an image, named by its sha256, that containers run from", async () => {
    const root = freshRoot();
    const id = new Bun.CryptoHasher("sha256").update(await Bun.file(tarball).bytes()).digest("hex");
    expect(importAs(root, "local/busybox:1.0")).toEqual({ code: 0, stdout: `sha256:${id}\n`, stderr: "" });
    const list = cbox(["images", "--root", root]);
    expect(list.stdout).toMatch(new RegExp(`^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\\nlocal/busybox +1\\.0 +${id.slice(0, 12)} +Less than a second ago +[\\d.]+ MB\\n$`));
    expect(cbox(["images", "-q", "--root", root]).stdout).toBe(`${id.slice(0, 12)}\n`);
    expect(cbox(["run", "--rm", "--root", root, "local/busybox:1.0", "cat", "/etc/alpine-release"]).stdout).toBe("3.20.3\n");
    const noCmd = cbox(["run", "--rm", "--root", root, "local/busybox:1.0"]);
    expect(noCmd).toEqual({ code: 125, stdout: "", stderr: "cbox: no command given and local/busybox:1.0 has none: cbox run IMAGE CMD [ARG...]\n" });
  });

  test("rmi is refused while a container uses the image, names it, and works once it is gone", () => {
    const root = freshRoot();
    const id = importAs(root, "img").stdout.trim().slice(7);
    expect(cbox(["run", "--name", "user1", "--root", root, "img", "true"]).code).toBe(0);
    const holder = readdirSync(join(root, "containers")).find((d) => /^[0-9a-f]{64}$/.test(d))!;
    expect(cbox(["rmi", "--root", root, "img"])).toEqual({
      code: 125,
      stdout: "",
      stderr: `cbox: image img is in use by container ${holder.slice(0, 12)}; remove it first or use cbox rmi -f\n`,
    });
    expect(cbox(["rm", "--root", root, "user1"]).code).toBe(0);
    expect(cbox(["rmi", "--root", root, "img"])).toEqual({ code: 0, stdout: `Untagged: img:latest\nDeleted: sha256:${id}\n`, stderr: "" });
    expect(treeListing(join(root, "images"), false)).toEqual(["/tags d 40755 "]);
  });

  test("rmi -f removes an image stopped containers use; a second tag keeps the image", () => {
    const root = freshRoot();
    const id = importAs(root, "a:1").stdout.trim().slice(7);
    expect(importAs(root, "b:2").stdout).toBe(`sha256:${id}\n`);
    expect(cbox(["rmi", "--root", root, "a:1"]).stdout).toBe("Untagged: a:1\n");
    expect(cbox(["run", "--root", root, "b:2", "true"]).code).toBe(0);
    expect(cbox(["rmi", "-f", "--root", root, "b:2"]).stdout).toBe(`Untagged: b:2\nDeleted: sha256:${id}\n`);
    expect(cbox(["rmi", "--root", root, "b:2"])).toEqual({ code: 125, stdout: "", stderr: "cbox: no such image: b:2\n" });
    // Not stored, so pulled: from a registry that is not there.
    expect(cbox(["run", "--root", root, "127.0.0.1:1/nosuch", "true"])).toEqual({
      code: 125,
      stdout: "",
      stderr: "cbox: cannot reach the registry 127.0.0.1:1: connection refused\n",
    });
  });

  test("import refuses what is not an archive, and names a missing file", () => {
    const root = freshRoot();
    const junk = join(work, "junk.tar.gz");
    writeFileSync(junk, Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const r = cbox(["import", "--root", root, junk, "junk"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(new RegExp(`^cbox: ${junk}: the archive is damaged or incomplete \\(.*\\)\\n$`));
    // A cut-off .tar.gz, at several places: never a partial image.
    const whole = readFileSync(tarball);
    for (const fraction of [0.3, 0.6, 0.999]) {
      const cut = join(work, `cut-${fraction}.tar.gz`);
      writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * fraction)));
      const c = cbox(["import", "--root", root, cut, "cut"]);
      expect(c.code).toBe(125);
      expect(c.stderr).toMatch(new RegExp(`^cbox: ${cut}: the archive is damaged or incomplete \\(.*\\)\\n$`));
    }
    expect(cbox(["import", "--root", root, join(work, "missing.tar"), "x"]).stderr).toBe(`cbox: cbox import: ${join(work, "missing.tar")}: no such file\n`);
    expect(treeListing(root, false).filter((l) => !l.startsWith("/images d"))).toEqual([]);
  });
});

describe.skipIf(!isRoot)("device nodes in an image", () => {
  let archive: string;
  beforeAll(async () => {
    chmodSync(work, 0o755); // the rootless case reads the archive as nobody
    archive = join(work, "devices.tar");
    await Bun.write(
      archive,
      await makeTar([
        { name: "./", type: "directory" },
        { name: "./dev/", type: "directory" },
        { name: "./dev/null", type: "character-device", mode: 0o666, devmajor: 1, devminor: 3 },
        { name: "./dev/big", type: "character-device", mode: 0o600, devmajor: 300, devminor: 70000 },
        { name: "./dev/pipe", type: "fifo", mode: 0o644 },
        { name: "./etc/", type: "directory" },
        { name: "./etc/motd", content: "hi\n" },
      ]),
    );
  });

  test("as root they are created with their numbers", () => {
    const root = freshRoot();
    const id = cbox(["import", "--root", root, archive, "dev"]).stdout.trim().slice(7);
    const dev = (name: string) => statSync(join(root, "images", id, "rootfs/dev", name));
    expect(dev("null").isCharacterDevice()).toBe(true);
    expect([dev("null").rdev, dev("null").mode & 0o7777]).toEqual([(1 << 8) | 3, 0o666]);
    // Numbers above 255 use the full encoding: major 300, minor 70000.
    const big = dev("big").rdev;
    expect([Number((BigInt(big) >> 8n) & 0xfffn), (big & 0xff) | ((big >> 12) & 0xfff00)]).toEqual([300, 70000]);
    expect(dev("pipe").isFIFO()).toBe(true);
  });

  test("rootless they are skipped with one warning; a FIFO still comes", () => {
    const root = join(work, "nobody-store");
    mkdirSync(root);
    chownSync(root, 65534, 65534);
    const r = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", cboxBin, "import", "--root", root, archive, "dev"], {
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", HOME: "/nonexistent" },
    });
    expect(r.exitCode).toBe(0);
    expect(r.stderr.toString()).toBe(`cbox: warning: 2 device nodes were skipped in ${archive}: only root can create them\n`);
    const id = r.stdout.toString().trim().slice(7);
    expect(readdirSync(join(root, "images", id, "rootfs/dev")).sort()).toEqual(["pipe"]);
  });
});

