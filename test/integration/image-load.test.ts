// `cbox load`: docker-archives (written by skopeo as docker save writes them) and OCI archives,
// from a file or standard input; the loaded image runs as the pulled one does and shares its
// layers; a damaged archive is one line, exit 125, and nothing stored. `cbox save`: one tar
// that skopeo reads both as a docker-archive and as an OCI archive, and that loads back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGES, pushImage, removeImageLayout, saveDockerArchive, skopeo, type PushedImage } from "../fixtures/oci-images.ts";
import { startRegistry, type Registry } from "../fixtures/registry.ts";
import { buildRootfs, cboxAsync, removeDir, tempDir, treeListing } from "./helpers.ts";

let work: string;
let reg: Registry;
let layered: PushedImage;
let config: PushedImage;
let dockerArchive: string;
let ociArchive: string;
let n = 0;
const freshRoot = () => join(work, `store-${++n}`);
const cbox = (root: string, args: string[], stdin?: string) => cboxAsync(args, { env: { CBOX_ROOT: root }, ...(stdin ? { stdin } : {}) });

beforeAll(async () => {
  work = tempDir();
  reg = await startRegistry();
  layered = await pushImage(reg, "layered");
  config = await pushImage(reg, "config");
  dockerArchive = join(work, "layered-docker.tar");
  await saveDockerArchive(reg, layered, dockerArchive);
  ociArchive = join(work, "config-oci.tar");
  const copy = await skopeo(["copy", "-q", "--src-tls-verify=false", `docker://${config.ref}`, `oci-archive:${ociArchive}:example.com/team/conf:v2`]);
  expect(copy.code).toBe(0);
}, 120_000);
afterAll(async () => {
  await reg?.stop();
  await removeImageLayout();
  if (work) removeDir(work);
});

const storedLayers = (root: string) => readdirSync(join(root, "layers")).filter((d) => /^[0-9a-f]{64}$/.test(d));

describe("cbox load", () => {
  test("a docker-archive: tagged as saved, the same image id as pulled, its whiteout and opaque folder honoured", async () => {
    const root = freshRoot();
    const load = await cbox(root, ["load", "-i", dockerArchive]);
    expect(load).toEqual({ code: 0, stdout: "Loaded image: cbox-test/layered:v1\n", stderr: "" });
    const run = await cbox(root, ["run", "--rm", "--network", "none", "cbox-test/layered:v1", "sh", "-c", "ls /data; ls /opq; cat /hard/b"]);
    expect(run.stdout).toBe("keep\nowned\nnew\nhard\n");
    const images = (await cbox(root, ["images", "-q"])).stdout;
    expect(images).toBe(`${layered.manifest!.config.digest.slice(7, 19)}\n`);
    // Pulled afterwards under its registry name: the image is there already, nothing is downloaded.
    const pull = await cbox(root, ["pull", layered.ref]);
    expect(pull.stdout).toBe(`Digest: ${layered.digest}\nStatus: Downloaded newer image for ${layered.ref}\n${layered.ref}\n`);
    const again = await cbox(root, ["pull", layered.ref]);
    expect(again.stdout).toBe(`Digest: ${layered.digest}\nStatus: Image is up to date for ${layered.ref}\n${layered.ref}\n`);
    expect(storedLayers(root)).toHaveLength(3);
  }, 60_000);

  test("an OCI archive from standard input: named by its annotation, Entrypoint and Cmd kept", async () => {
    const root = freshRoot();
    const p = Bun.spawn(["sh", "-c", `exec "$0" load < "$1"`, join(import.meta.dir, "../../dist/cbox"), ociArchive], { env: { ...process.env, CBOX_ROOT: root }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: "Loaded image: example.com/team/conf:v2\n", stderr: "" });
    expect((await cbox(root, ["run", "--rm", "--network", "none", "example.com/team/conf:v2"])).stdout).toBe(IMAGES.config.output);
    expect(readdirSync(join(root, "images")).filter((f) => f.startsWith(".tmp-"))).toEqual([]);
  }, 60_000);

  test("a layer that is not what the config says, and a file that is no image archive: one line, nothing stored", async () => {
    const root = freshRoot();
    // The docker-archive with one byte of its last layer's file content changed.
    const bytes = readFileSync(dockerArchive);
    const manifest = JSON.parse(Bun.spawnSync(["tar", "-xOf", dockerArchive, "manifest.json"]).stdout.toString());
    const lastLayer: string = manifest[0].Layers[2];
    // /hard/a's content, in the third layer's file (after its header, which names it).
    const at = bytes.indexOf(Buffer.from("hard\n"), bytes.indexOf(Buffer.from(lastLayer)) + 512);
    expect(at).toBeGreaterThan(0);
    bytes[at] = "H".charCodeAt(0);
    const damaged = join(work, "damaged.tar");
    writeFileSync(damaged, bytes);
    const r = await cbox(root, ["load", "-i", damaged]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(new RegExp(`^cbox: layer ${lastLayer} of cbox load ${damaged}: its tar stream is sha256:[0-9a-f]{64}, the config says sha256:[0-9a-f]{64}; nothing was stored\\n$`));
    const notTar = join(work, "not.tar");
    writeFileSync(notTar, "hello\n".repeat(200));
    expect(await cbox(root, ["load", "-i", notTar])).toMatchObject({ code: 125, stderr: `cbox: cbox load ${notTar}: not a tar archive, or a damaged one (bad header checksum at byte 0)\n` });
    expect(treeListing(root, false).filter((l) => !/^\/(images|images\/tags|layers|layers\/l) d /.test(l))).toEqual([]);
  }, 60_000);
});

describe("cbox save", () => {
  test("a registry image: skopeo reads the tar as a docker-archive and as an OCI archive; it loads back and runs alike", async () => {
    const root = freshRoot();
    expect((await cbox(root, ["pull", "-q", layered.ref])).code).toBe(0);
    const file = join(work, "saved.tar");
    expect(await cbox(root, ["save", "-o", file, layered.ref])).toEqual({ code: 0, stdout: "", stderr: "" });
    const asDocker = await skopeo(["inspect", `docker-archive:${file}`]);
    expect(asDocker.code).toBe(0);
    expect(JSON.parse(asDocker.stdout).Layers).toHaveLength(3);
    const asOci = await skopeo(["inspect", `oci-archive:${file}:${layered.tag}`]);
    expect([asOci.code, JSON.parse(asOci.stdout).Architecture]).toEqual([0, process.arch === "x64" ? "amd64" : "arm64"]);
    const other = freshRoot();
    expect(await cbox(other, ["load", "-i", file])).toEqual({ code: 0, stdout: `Loaded image: ${layered.ref}\n`, stderr: "" });
    const look = ["sh", "-c", "ls /data; ls /opq; stat -c '%n %u:%g %a %h' /data/owned /hard/a /hard/b"];
    const here = await cbox(root, ["run", "--rm", "--network", "none", layered.ref, ...look]);
    const there = await cbox(other, ["run", "--rm", "--network", "none", layered.ref, ...look]);
    expect(there.stdout).toBe(here.stdout);
    expect(here.stdout).toBe("keep\nowned\nnew\n/data/owned 1000:1000 640 1\n/hard/a 0:0 644 2\n/hard/b 0:0 644 2\n");
  }, 60_000);

  test("an imported image, to standard output; a missing image is one line and no file", async () => {
    const root = freshRoot();
    const rootfs = buildRootfs(join(work, "rootfs"));
    const archive = join(work, "rootfs.tar");
    expect(Bun.spawnSync(["tar", "-cf", archive, "-C", rootfs, "."]).exitCode).toBe(0);
    expect((await cbox(root, ["import", archive, "local/base:1"])).code).toBe(0);
    const file = join(work, "stdout.tar");
    const p = Bun.spawn(["sh", "-c", `exec "$0" save local/base:1 > "$1"`, join(import.meta.dir, "../../dist/cbox"), file], { env: { ...process.env, CBOX_ROOT: root }, stderr: "pipe" });
    expect([await p.exited, await new Response(p.stderr).text()]).toEqual([0, ""]);
    const other = freshRoot();
    expect((await cbox(other, ["load", "-i", file])).stdout).toBe("Loaded image: local/base:1\n");
    expect((await cbox(other, ["run", "--rm", "--network", "none", "local/base:1", "cat", "/etc/alpine-release"])).code).toBe(0);
    const missing = join(work, "missing.tar");
    expect(await cbox(root, ["save", "-o", missing, "no/such:1"])).toEqual({ code: 125, stdout: "", stderr: "cbox: no such image: no/such:1\n" });
    expect(readdirSync(work).filter((f) => f.startsWith("missing.tar"))).toEqual([]);
  }, 60_000);
});
