// Images from Debian's docker-registry on 127.0.0.1, started here: OCI and Docker schema 2,
// gzip and zstd layers, an index with two platforms, a config with Entrypoint/Cmd/Env/WorkingDir/
// User; what a container sees of their layers (whiteouts, the opaque folder, hard links); the
// image commands; layers shared and removed; two pulls at once; and each failure as one line,
// exit 125, nothing stored.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGES, pushAllImages, pushImage, removeImageLayout, type ImageFiles, type ImageName, type PushedImage } from "../fixtures/oci-images.ts";
import { pushRawImage } from "../fixtures/raw-push.ts";
import { startRegistry, type Registry } from "../fixtures/registry.ts";
import { cboxAsync, isRoot, removeDir, rootlessUserFixture, tempDir, treeListing, type Result } from "./helpers.ts";

const hostArch = process.arch === "x64" ? "amd64" : "arm64";
let work: string;
let reg: Registry;
let images: Record<ImageName, PushedImage>;
let n = 0;
const freshRoot = () => join(work, `store-${++n}`);
const user = rootlessUserFixture("cbox-reg-user", 1_600_000);

beforeAll(async () => {
  work = tempDir();
  reg = await startRegistry();
  images = await pushAllImages(reg);
}, 120_000);
afterAll(async () => {
  await reg?.stop();
  await removeImageLayout();
  if (work) removeDir(work);
});

const cbox = (root: string, ...args: string[]) => cboxAsync(args, { env: { CBOX_ROOT: root } });

/** A shell script that prints each described entry as the container sees it. */
function describeScript(files: ImageFiles): string {
  const lines = [
    ...files.present.map((e) => (e.type === "file" && e.content !== undefined ? `stat -c '%n %F %a %u:%g' ${e.path}; cat ${e.path}` : `stat -c '%n %F %a %u:%g' ${e.path}; readlink ${e.path} || true`)),
    ...files.absent.map((p) => `[ -e ${p} ] && echo "${p} exists" || echo "${p} absent"`),
    ...files.hardLinks.map(([a, b]) => `[ $(stat -c %i ${a}) = $(stat -c %i ${b}) ] && echo "${a} = ${b}"`),
  ];
  return lines.join("\n");
}

/** What describeScript must print, from the description alone. */
function expectedDescription(files: ImageFiles, asRoot: boolean): string {
  const kind = { file: "regular file", dir: "directory", symlink: "symbolic link" } as const;
  const out: string[] = [];
  for (const e of files.present) {
    const mode = e.type === "symlink" ? 777 : (e.mode ?? (e.type === "dir" ? 0o755 : 0o644)).toString(8);
    const owner = e.type !== "symlink" && asRoot ? `${e.uid ?? 0}:${e.gid ?? 0}` : "0:0";
    const regular = e.type === "file" && e.content !== undefined && e.content === "" ? "regular empty file" : kind[e.type];
    out.push(`${e.path} ${regular} ${mode} ${owner}`);
    if (e.type === "file" && e.content !== undefined) out.push(...e.content.split("\n").slice(0, -1));
    if (e.type === "symlink") out.push(e.target);
  }
  out.push(...files.absent.map((p) => `${p} absent`), ...files.hardLinks.map(([a, b]) => `${a} = ${b}`));
  return out.join("\n") + "\n";
}

/** The store after a failure: no image, no layer, no temp folder, no lock; at most empty folders. */
function expectNothingStored(root: string) {
  const left = treeListing(root, false).filter((l) => !/^\/(images|images\/tags|layers|layers\/l) d /.test(l));
  expect(left).toEqual([]);
}

function expectOneLine(r: Result, message: string | RegExp) {
  expect(r.code).toBe(125);
  const line = r.stderr.split("\n").filter((l) => !/: (Waiting|Downloading|Pull complete|Already exists|Retrying)/.test(l) && l).join("\n");
  if (typeof message === "string") expect(line).toBe(`cbox: ${message}`);
  else expect(line).toMatch(message);
}

const storedLayers = (root: string) => readdirSync(join(root, "layers")).filter((d) => /^[0-9a-f]{64}$/.test(d)).sort();

describe("pulling and running registry images", () => {
  test("three layers, as OCI, Docker schema 2 and zstd: whiteout, opaque folder, hard link and owners as the image says", async () => {
    const root = freshRoot();
    for (const name of ["layered", "layeredDocker", "layeredZstd"] as const) {
      const img = images[name];
      const pull = await cbox(root, "pull", img.ref);
      expect([name, pull.code, pull.stderr]).toEqual([name, 0, ""]);
      expect(pull.stdout).toEndWith(`Digest: ${img.digest}\nStatus: Downloaded newer image for ${img.ref}\n${img.ref}\n`);
      const run = await cbox(root, "run", "--rm", "--network", "none", img.ref, "sh", "-c", describeScript(IMAGES[name].files!));
      expect([name, run.stderr, run.stdout]).toEqual([name, "", expectedDescription(IMAGES[name].files!, isRoot)]);
    }
    // The zstd image's blobs differ, its tar streams do not: one copy of each layer for all three.
    expect(storedLayers(root)).toHaveLength(3);
  }, 60_000);

  test("progress: one line a layer (Already exists for shared ones), the digest, the status, the name; -q: the name only", async () => {
    const root = freshRoot();
    const first = await cbox(root, "pull", images.layered.ref);
    // Each layer by its blob's short digest, as docker shows it; lines come as layers finish.
    const short = (d: string) => d.slice(7, 19);
    const completed = first.stdout.split("\n").filter((l) => l.endsWith(": Pull complete")).sort();
    expect(completed).toEqual(images.layered.manifest!.layers.map((l) => `${short(l.digest)}: Pull complete`).sort());
    const second = await cbox(root, "pull", images.config.ref);
    const [base, own] = images.config.manifest!.layers;
    expect(second.stdout).toStartWith(`${short(base!.digest)}: Already exists\n${short(own!.digest)}: Pull complete\nDigest: ${images.config.digest}\n`);
    const quiet = await cbox(root, "pull", "-q", images.layeredDocker.ref);
    expect(quiet).toEqual({ code: 0, stdout: `${images.layeredDocker.ref}\n`, stderr: "" });
  }, 60_000);

  test("config: Entrypoint and Cmd, --entrypoint, Env, WorkingDir and User as docker combines them", async () => {
    const root = freshRoot();
    const ref = images.config.ref;
    expect(await cbox(root, "run", "--rm", "--network", "none", ref)).toMatchObject({ code: 0, stdout: IMAGES.config.output });
    expect((await cbox(root, "run", "--rm", "--network", "none", ref, "other")).stdout).toBe("entry other\n");
    const inside = await cbox(root, "run", "--rm", "--network", "none", "--entrypoint", "sh", ref, "-c", 'id -u; id -g; pwd; echo "$FOO|$HOME|$PATH"');
    expect(inside).toEqual({ code: 0, stdout: `1000\n1000\n/work\nbar|/|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n`, stderr: "" });
    const asRoot = await cbox(root, "run", "--rm", "--network", "none", "-u", "0", "-w", "/", "-e", "FOO=mine", "--entrypoint", "sh", ref, "-c", 'id -u; pwd; echo "$FOO"');
    expect(asRoot.stdout).toBe("0\n/\nmine\n");
  }, 60_000);

  test("an index: this host's platform, or --platform's; an unsupported one is refused", async () => {
    const root = freshRoot();
    const ref = images.multi.ref;
    expect((await cbox(root, "run", "--rm", "--network", "none", ref, "cat", "/platform")).stdout).toBe(`linux/${hostArch}\n`);
    const other = hostArch === "amd64" ? "arm64" : "amd64";
    const pulled = await cbox(root, "pull", "-q", "--platform", `linux/${other}`, ref);
    expect(pulled.code).toBe(0);
    const inspect = JSON.parse((await cbox(root, "image", "inspect", ref)).stdout);
    expect([inspect[0].Os, inspect[0].Architecture]).toEqual(["linux", other]);
    const wanted = images.multi.manifests!.find((m) => m.platform.architecture === other)!;
    expect(inspect[0].RepoDigests).toEqual([`${reg.host}/${images.multi.repo}@${wanted.digest}`]);
    const s390 = await cbox(freshRoot(), "pull", "--platform", "linux/s390x", ref);
    expectOneLine(s390, `${ref} has no image for linux/s390x; it has linux/amd64, linux/arm64 (choose one with --platform)`);
  }, 60_000);

  test("run pulls on first use; images, --digests, tag, image inspect", async () => {
    const root = freshRoot();
    const img = images.config;
    const run = await cbox(root, "run", "--rm", "--network", "none", img.ref);
    expect([run.code, run.stdout]).toEqual([0, IMAGES.config.output]);
    expect((await cbox(root, "tag", img.ref, "mine/app:1")).code).toBe(0);
    const listed = (await cbox(root, "images", "--digests")).stdout.split("\n");
    expect(listed[0]).toMatch(/^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$/);
    const configId = img.manifest!.config.digest;
    expect(listed.find((l) => l.startsWith(`${reg.host}/${img.repo} `))).toMatch(new RegExp(`^\\S+ +v1 +${img.digest} +${configId.slice(7, 19)} `));
    expect(listed.find((l) => l.startsWith("mine/app "))).toMatch(new RegExp(`^mine/app +1 +<none> +${configId.slice(7, 19)} `));
    const [inspect] = JSON.parse((await cbox(root, "image", "inspect", "mine/app:1")).stdout);
    expect(inspect.RootFS.Layers).toHaveLength(img.manifest!.layers.length);
    expect(inspect).toMatchObject({
      Id: configId,
      RepoTags: expect.arrayContaining(["mine/app:1", img.ref]),
      RepoDigests: [`${reg.host}/${img.repo}@${img.digest}`],
      Os: "linux",
      Config: { Entrypoint: ["/bin/echo", "entry"], Cmd: ["cmd-arg"], WorkingDir: "/work", User: "1000:1000" },
      RootFS: { Type: "layers", Layers: expect.any(Array) },
    });
    expect(inspect.Config.Env).toContain("FOO=bar");
    // By digest, the image pulled by that manifest.
    const byDigest = await cbox(root, "run", "--rm", "--network", "none", `${reg.host}/${img.repo}@${img.digest}`);
    expect(byDigest.stdout).toBe(IMAGES.config.output);
  }, 60_000);

  test("rmi untags, removes the image once untagged, and the layers no other image uses", async () => {
    const root = freshRoot();
    for (const name of ["layered", "config"] as const) expect((await cbox(root, "pull", "-q", images[name].ref)).code).toBe(0);
    expect(storedLayers(root)).toHaveLength(4); // config shares layered's base layer
    const rmi = await cbox(root, "rmi", images.layered.ref);
    expect(rmi.stdout.split("\n").filter((l) => l.startsWith("Deleted: "))).toHaveLength(1 + 2);
    expect(storedLayers(root)).toHaveLength(2);
    expect((await cbox(root, "run", "--rm", "--network", "none", images.config.ref)).stdout).toBe(IMAGES.config.output);
    expect((await cbox(root, "rmi", images.config.ref)).code).toBe(0);
    expect(storedLayers(root)).toEqual([]);
    expect(readdirSync(join(root, "layers", "l"))).toEqual([]);
  }, 60_000);

  test("image prune removes untagged images and their layers; a container's image stays", async () => {
    const root = freshRoot();
    const ref = images.multi.ref;
    expect((await cbox(root, "pull", "-q", ref)).code).toBe(0);
    const other = hostArch === "amd64" ? "arm64" : "amd64";
    expect((await cbox(root, "pull", "-q", "--platform", `linux/${other}`, ref)).code).toBe(0); // the tag moves: this host's is untagged
    expect(storedLayers(root)).toHaveLength(3);
    const prune = await cbox(root, "image", "prune");
    expect(prune.stdout.split("\n").filter((l) => l.startsWith("Deleted: "))).toHaveLength(2); // the image, its /platform layer
    expect(storedLayers(root)).toHaveLength(2);
    expect((await cbox(root, "image", "prune", "-a")).code).toBe(0);
    expect(storedLayers(root)).toEqual([]);
  }, 60_000);

  test("two pulls of one image at once: both succeed, one copy of each layer", async () => {
    const root = freshRoot();
    const [a, b] = await Promise.all([cbox(root, "pull", "-q", images.layered.ref), cbox(root, "pull", "-q", images.layered.ref)]);
    expect([a.code, a.stderr, b.code, b.stderr]).toEqual([0, "", 0, ""]);
    expect(storedLayers(root)).toHaveLength(3);
    expect(readdirSync(join(root, "images")).filter((d) => /^[0-9a-f]{64}$/.test(d))).toHaveLength(1);
    expect(readdirSync(join(root, "layers")).filter((d) => d.startsWith("."))).toEqual([]);
  }, 60_000);
});

describe("pull failures: one line, exit 125, nothing stored", () => {
  test("an unknown repository, an unknown tag", async () => {
    const root = freshRoot();
    for (const ref of [`${reg.host}/cbox-test/nothing:v1`, `${reg.host}/cbox-test/layered:v9`]) {
      expectOneLine(await cbox(root, "pull", ref), `no such image: ${ref} (${reg.host} has no such repository, or no such tag or digest in it)`);
    }
    expectNothingStored(root);
  }, 30_000);

  test("a registry that is down", async () => {
    const root = freshRoot();
    const down = await startRegistry();
    const host = down.host;
    await down.stop();
    const r = await cbox(root, "pull", `${host}/cbox-test/layered:v1`);
    expectOneLine(r, `cannot reach the registry ${host}: connection refused`);
    expectNothingStored(root);
  }, 60_000);

  test("a schema 1 manifest is refused", async () => {
    const root = freshRoot();
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) =>
        new URL(req.url).pathname === "/v2/old/image/manifests/v1"
          ? new Response(JSON.stringify({ schemaVersion: 1, name: "old/image", tag: "v1", fsLayers: [], history: [] }), { headers: { "content-type": "application/vnd.docker.distribution.manifest.v1+prettyjws" } })
          : new Response("{}", { status: 404 }),
    });
    try {
      const r = await cbox(root, "pull", `127.0.0.1:${server.port}/old/image:v1`);
      expectOneLine(r, `127.0.0.1:${server.port}/old/image:v1 is a Docker schema 1 image, which cbox does not pull (deprecated since 2017: push it again with a current docker, podman or skopeo)`);
    } finally {
      server.stop(true);
    }
    expectNothingStored(root);
  }, 30_000);

  test("a manifest whose bytes do not match the digest asked for, or the one the registry gives", async () => {
    const bad = await startRegistry();
    try {
      const img = await pushImage(bad, "config");
      const d = img.digest.slice(7);
      const stored = join(bad.storage, "docker/registry/v2/blobs/sha256", d.slice(0, 2), d, "data");
      // One hex digit of the config's digest changed: the same size, other bytes.
      const configHex = img.manifest!.config.digest.slice(7);
      const flipped = configHex.slice(0, -1) + (configHex.endsWith("0") ? "1" : "0");
      const text = readFileSync(stored, "utf8");
      expect(text).toContain(configHex);
      writeFileSync(stored, text.replace(configHex, flipped));
      const root = freshRoot();
      const byTag = await cbox(root, "pull", img.ref);
      expectOneLine(byTag, new RegExp(`^cbox: the manifest of ${img.ref.replaceAll(".", "\\.")} does not match the digest the registry gives for it \\(${img.digest}, got sha256:[0-9a-f]{64}\\); nothing was stored$`));
      const byDigest = await cbox(root, "pull", `${bad.host}/${img.repo}@${img.digest}`);
      expectOneLine(byDigest, new RegExp(`^cbox: the manifest of .* does not match its digest: asked for ${img.digest}, got sha256:[0-9a-f]{64}; nothing was stored$`));
      expectNothingStored(root);
    } finally {
      await bad.stop();
    }
  }, 60_000);

  test("a layer whose bytes do not match its digest, and one cut short", async () => {
    const bad = await startRegistry();
    try {
      const blobFile = (digest: string) => join(bad.storage, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");
      const img = await pushImage(bad, "layered");
      // Byte 4 of a gzip stream is its MTIME, which gunzip ignores: the tar stream stays whole,
      // only the digest can tell.
      const third = img.manifest!.layers[2]!;
      const bytes = readFileSync(blobFile(third.digest));
      bytes[4] ^= 0xff;
      writeFileSync(blobFile(third.digest), bytes);
      const root = freshRoot();
      expectOneLine(await cbox(root, "pull", img.ref), new RegExp(`^cbox: layer ${third.digest} of ${img.ref.replaceAll(".", "\\.")} does not match its digest: got sha256:[0-9a-f]{64}; nothing was stored$`));
      expectNothingStored(root);

      const random = Buffer.from(crypto.getRandomValues(new Uint8Array(60_000))).toString("base64");
      const cutRef = await pushRawImage(bad, "raw/cut", "v1", { layers: [[{ name: "random", content: random }]] });
      const manifest = await (await fetch(`${bad.url}/v2/raw/cut/manifests/v1`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } })).json();
      const layer = manifest.layers[0];
      truncateSync(blobFile(layer.digest), Math.floor(layer.size / 2));
      expectOneLine(await cbox(root, "pull", cutRef), `layer ${layer.digest} of ${cutRef} was cut short: ${Math.floor(layer.size / 2)} of ${layer.size} bytes; nothing was stored`);
      expectNothingStored(root);
    } finally {
      await bad.stop();
    }
  }, 90_000);

  test("a layer whose tar stream is not the config's diff_id", async () => {
    const root = freshRoot();
    const ref = await pushRawImage(reg, "raw/lying", "v1", { layers: [[{ name: "a", content: "a\n" }]], diffIds: [`sha256:${"0".repeat(64)}`] });
    expectOneLine(await cbox(root, "pull", ref), new RegExp(`: its tar stream is sha256:[0-9a-f]{64}, the config says sha256:0{64}; nothing was stored$`));
    expectNothingStored(root);
  }, 30_000);

  test("a hostile layer: a path leaving the root, a hard link to a host file", async () => {
    const root = freshRoot();
    const escape = await pushRawImage(reg, "raw/escape", "v1", { layers: [[{ name: "ok", content: "" }], [{ name: "../../escaped", content: "x" }]] });
    expectOneLine(await cbox(root, "pull", escape), new RegExp(`^cbox: layer sha256:[0-9a-f]{64} of ${reg.host}/raw/escape:v1: refusing archive entry "\\.\\./\\.\\./escaped": path leaves the image root; nothing was stored$`));
    const link = await pushRawImage(reg, "raw/link", "v1", { layers: [[{ name: "shadow", type: "link", linkname: "/etc/shadow" }]] });
    expectOneLine(await cbox(root, "pull", link), /refusing archive entry "shadow": hard link target "\/etc\/shadow" leaves the image root; nothing was stored$/);
    expectNothingStored(root);
  }, 30_000);
});

describe.skipIf(!isRoot)("an ordinary user", () => {
  const asUser = (...args: string[]) => cboxAsync(args, { as: user.as, env: { CBOX_ROOT: user.store } });

  test("pulls, runs what the layers make (owners are the user's, 0 inside), and rmi leaves no layer", async () => {
    for (const name of ["layered", "layeredZstd"] as const) {
      const img = images[name];
      expect(await asUser("pull", "-q", img.ref)).toEqual({ code: 0, stdout: `${img.ref}\n`, stderr: "" });
      const run = await asUser("run", "--rm", img.ref, "sh", "-c", describeScript(IMAGES[name].files!));
      expect([name, run.stdout]).toEqual([name, expectedDescription(IMAGES[name].files!, false)]);
    }
    const config = await asUser("run", "--rm", images.config.ref);
    expect(config.stdout).toBe(IMAGES.config.output);
    for (const name of ["layered", "layeredZstd", "config"] as const) expect((await asUser("rmi", images[name].ref)).code).toBe(0);
    expect(storedLayers(user.store)).toEqual([]);
  }, 90_000);

  test("a hostile layer is refused and leaves nothing", async () => {
    const ref = await pushRawImage(reg, "raw/user-escape", "v1", { layers: [[{ name: "ok", content: "" }], [{ name: "a/../../escaped", content: "x" }]] });
    expectOneLine(await asUser("pull", ref), /refusing archive entry "a\/\.\.\/\.\.\/escaped": path leaves the image root; nothing was stored$/);
    expect(storedLayers(user.store)).toEqual([]);
  }, 30_000);
});

describe("registries that need a login: Basic, and Bearer tokens from a token server", () => {
  const withConfig = (root: string, dockerConfig: string, ...args: string[]) => cboxAsync(args, { env: { CBOX_ROOT: root, DOCKER_CONFIG: dockerConfig } });

  test("Basic: refused without a login or with a wrong password; pulls after cbox login; refused after logout", async () => {
    const basic = await startRegistry({ auth: "basic" });
    const config = join(work, `docker-config-${++n}`);
    try {
      const img = await pushImage(basic, "config");
      const root = freshRoot();
      expectOneLine(await withConfig(root, config, "pull", img.ref), `the registry ${basic.host} needs a login: cbox login ${basic.host}`);
      const wrong = await cboxAsync(["login", "-u", basic.user, "--password-stdin", basic.host], { stdin: "not-it\n", env: { DOCKER_CONFIG: config } });
      expectOneLine(wrong, `login to ${basic.host} failed: wrong username or password`);
      const login = await cboxAsync(["login", "-u", basic.user, "--password-stdin", basic.host], { stdin: `${basic.password}\n`, env: { DOCKER_CONFIG: config } });
      expect([login.code, login.stdout]).toEqual([0, "Login Succeeded\n"]);
      const stored = JSON.parse(readFileSync(join(config, "config.json"), "utf8"));
      expect(stored.auths[basic.host].auth).toBe(btoa(`${basic.user}:${basic.password}`));
      const pulled = await withConfig(root, config, "run", "--rm", "--network", "none", img.ref);
      expect([pulled.code, pulled.stdout]).toEqual([0, IMAGES.config.output]);
      expect((await cboxAsync(["logout", basic.host], { env: { DOCKER_CONFIG: config } })).stdout).toBe(`Removing login credentials for ${basic.host}\n`);
      const other = freshRoot();
      expectOneLine(await withConfig(other, config, "pull", img.ref), `the registry ${basic.host} needs a login: cbox login ${basic.host}`);
      expectNothingStored(other);
    } finally {
      await basic.stop();
    }
  }, 90_000);

  test("Bearer: anonymous tokens for public repositories; a login's token for private ones; wrong credentials refused", async () => {
    const token = await startRegistry({ auth: "token" });
    const config = join(work, `docker-config-${++n}`);
    try {
      const pub = await pushImage(token, "config", { repo: "public/config" });
      const priv = await pushImage(token, "layered");
      const root = freshRoot();
      const anonymous = await withConfig(root, config, "run", "--rm", "--network", "none", pub.ref);
      expect([anonymous.code, anonymous.stdout]).toEqual([0, IMAGES.config.output]);
      expectOneLine(await withConfig(root, config, "pull", priv.ref), `pull access denied for ${priv.ref}: the repository does not exist or needs a login (cbox login ${token.host})`);
      mkdirSync(config, { recursive: true });
      writeFileSync(join(config, "config.json"), JSON.stringify({ auths: { [token.host]: { auth: btoa(`${token.user}:wrong`) } } }));
      expectOneLine(await withConfig(root, config, "pull", priv.ref), new RegExp(`^cbox: login to ${token.host.replaceAll(".", "\\.")} failed: wrong username or password`));
      const login = await cboxAsync(["login", "-u", token.user, "--password-stdin", token.host], { stdin: `${token.password}\n`, env: { DOCKER_CONFIG: config } });
      expect([login.code, login.stdout]).toEqual([0, "Login Succeeded\n"]);
      expect((await withConfig(root, config, "pull", "-q", priv.ref)).code).toBe(0);
      // The token server saw the repository's pull scope asked for, with the account.
      expect(token.tokenServer!.requests.some((r) => r.scopes.includes(`repository:${priv.repo}:pull`) && r.user === token.user && r.status === 200)).toBe(true);
    } finally {
      await token.stop();
    }
  }, 90_000);
});
