// Alpine images from a local mirror: resolution, verification, storage, and every failure.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { join } from "node:path";
import { buildReleases, startMirror, tarballName, type Mirror, type Release } from "../fixtures/mirror.ts";
import { cboxAsync, cboxBin, isRoot, removeDir, tempDir, treeListing } from "./helpers.ts";

let work: string;
let releases: Release[];
let mirror: Mirror;
let n = 0;
const freshRoot = () => join(work, `store-${++n}`);
const release = (version: string) => releases.find((r) => r.version === version)!;
const tarballRequests = () => mirror.requests.filter((p) => p.endsWith(".tar.gz"));

beforeAll(async () => {
  work = tempDir();
  releases = await buildReleases(join(work, "releases"), [
    { branch: "v3.19", version: "3.19.4" },
    { branch: "v3.20", version: "3.20.2" },
    { branch: "v3.20", version: "3.20.3" },
    { branch: "edge", version: "20241101" },
  ]);
  mirror = startMirror({ releases, latestStable: "v3.20", edge: "20241101" });
});
afterAll(() => {
  mirror.stop();
  removeDir(work);
});

const pull = (root: string, ...args: string[]) => cboxAsync(["pull", "--root", root, "--mirror", mirror.url, ...args]);

/** The store after a failure: no image, no temp folder, no lock; at most empty folders. */
function expectNothingStored(root: string) {
  const left = treeListing(root, false).filter((l) => !/^\/images d |^\/images\/tags d /.test(l));
  expect(left).toEqual([]);
}

describe.skipIf(!isRoot)("cbox run alpine / cbox pull", () => {
  test("cbox run alpine pulls latest-stable on first use and runs in it", async () => {
    const root = freshRoot();
    const r = await cboxAsync(["run", "--rm", "--root", root, "--mirror", mirror.url, "alpine", "cat", "/etc/alpine-release"]);
    expect(r.stdout).toBe("3.20.3\n");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^alpine:latest \(3\.20\.3, x86_64\): downloading [\d.]+ MB\nalpine:latest \(3\.20\.3, x86_64\): [\d.]+ MB in [\d.]+s\n$/);
    // Stored under the sha256 the mirror announced, and used again without the network.
    expect(readdirSync(join(root, "images")).sort()).toEqual([release("3.20.3").sha256, "tags"]);
    const before = tarballRequests().length;
    const again = await cboxAsync(["run", "--rm", "--root", root, "--mirror", "http://127.0.0.1:9/none", "alpine", "cat", "/etc/alpine-release"]);
    expect([again.code, again.stdout, again.stderr]).toEqual([0, "3.20.3\n", ""]);
    expect(tarballRequests().length).toBe(before);
  });

  test("--pull: never refuses a missing image; always pulls a stored one again; missing is the default", async () => {
    const root = freshRoot();
    const run = (...flags: string[]) => cboxAsync(["run", "--rm", "-q", "--root", root, "--mirror", mirror.url, ...flags, "alpine:3.19", "cat", "/etc/alpine-release"]);
    expect(await run("--pull", "never")).toEqual({ code: 125, stdout: "", stderr: "cbox: alpine:3.19 is not in cbox's store, and --pull never forbids pulling it: cbox pull alpine:3.19 first\n" });
    expectNothingStored(root);
    const before = tarballRequests().length;
    expect((await run("--pull", "missing")).stdout).toBe("3.19.4\n");
    expect(tarballRequests().length).toBe(before + 1);
    const asked = mirror.requests.length;
    expect((await run("--pull", "never")).stdout).toBe("3.19.4\n");
    expect((await run()).stdout).toBe("3.19.4\n");
    expect(mirror.requests.length).toBe(asked);
    // always asks the mirror again; the release it names is stored already, so it is not downloaded twice (as docker's layers).
    expect((await run("--pull", "always")).stdout).toBe("3.19.4\n");
    expect(mirror.requests.length).toBeGreaterThan(asked);
    expect(tarballRequests().length).toBe(before + 1);
    expect(await run("--pull", "sometimes")).toEqual({ code: 125, stdout: "", stderr: `cbox: --pull "sometimes": expected missing (the default), always or never\n` });
    const rootfs = await cboxAsync(["run", "--rm", "--root", root, "--pull", "always", "--rootfs", work, "true"]);
    expect(rootfs).toEqual({ code: 125, stdout: "", stderr: "cbox: --pull is for images: --rootfs runs a folder, which is never pulled\n" });
  });

  test("the default command of an alpine image is /bin/sh", async () => {
    const root = freshRoot();
    const r = await cboxAsync(["run", "--rm", "-i", "-q", "--root", root, "--mirror", mirror.url, "alpine:3.19"], { stdin: "cat /etc/alpine-release\n" });
    expect([r.code, r.stdout, r.stderr]).toEqual([0, "3.19.4\n", ""]);
  });

  test("tags pick releases: latest, X.Y (newest patch), X.Y.Z, edge", async () => {
    const root = freshRoot();
    const cases: [string, string][] = [
      ["alpine", "3.20.3"],
      ["alpine:latest", "3.20.3"],
      ["alpine:3.20", "3.20.3"],
      ["alpine:3.20.2", "3.20.2"],
      ["alpine:3.19", "3.19.4"],
      ["alpine:edge", "20241101"],
    ];
    for (const [ref, version] of cases) {
      const r = await pull(root, "-q", ref);
      expect([r.code, r.stdout, r.stderr]).toEqual([0, `sha256:${release(version).sha256}\n`, ""]);
    }
    const images = await cboxAsync(["images", "--root", root, "--format", "json"]);
    const rows = images.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.map((r: { repository: string; tag: string }) => `${r.repository}:${r.tag}`).sort()).toEqual(
      ["alpine:3.19", "alpine:3.20", "alpine:3.20.2", "alpine:edge", "alpine:latest"].sort(),
    );
    const table = await cboxAsync(["images", "--root", root]);
    expect(table.stdout.split("\n")[0]).toMatch(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/);
    expect(table.stdout).toMatch(new RegExp(`alpine +3\\.20\\.2 +${release("3.20.2").sha256.slice(0, 12)} `));
  });

  test("CBOX_ALPINE_MIRROR sets the mirror; --arch picks the architecture's folder", async () => {
    const root = freshRoot();
    const r = await cboxAsync(["pull", "-q", "--root", root, "alpine:3.20.2"], { env: { CBOX_ALPINE_MIRROR: mirror.url } });
    expect(r.stdout).toBe(`sha256:${release("3.20.2").sha256}\n`);
    const arm = await pull(root, "--arch", "aarch64", "alpine:3.20");
    expect(arm.code).toBe(125);
    expect(arm.stderr).toContain(`${mirror.url}/v3.20/releases/aarch64/latest-releases.yaml: 404 not found`);
    const bad = await pull(root, "--arch", "sparc", "alpine");
    expect(bad.stderr).toStartWith('cbox: --arch "sparc": not an Alpine architecture');
  });

  test("on a terminal, progress is a bar redrawn in place with size, rate and time left", async () => {
    const root = freshRoot();
    mirror.fault({ kind: "slow", bytesPerSecond: 3_000_000 });
    try {
      const cmd = `${cboxBin} pull --root ${root} --mirror ${mirror.url} alpine:3.20.2`;
      const proc = Bun.spawn(["script", "-qefc", cmd, "/dev/null"], { stdout: "pipe", stderr: "pipe", stdin: "pipe" });
      const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(0);
      const redraws = out.split("\r\x1b[K").slice(1);
      expect(redraws.length).toBeGreaterThan(2);
      for (const line of redraws.slice(0, -1)) {
        expect(line).toMatch(/^alpine:3\.20\.2 \(3\.20\.2, x86_64\) \[[= >]{24}\] [\d.]+ k?M?B\/[\d.]+ MB [\d.]+ k?M?B\/s \S+ left$/);
      }
      expect(redraws.at(-1)).toMatch(/^alpine:3\.20\.2 .*\[=+>\] ([\d.]+ MB)\/\1 .* left\r?\nsha256:[0-9a-f]{64}\r?\n$/);
    } finally {
      mirror.fault(null);
    }
  });

  test("progress on a non-terminal is plain lines; -q says nothing", async () => {
    const root = freshRoot();
    const r = await pull(root, "alpine:3.20.2");
    expect(r.stdout).toMatch(/^alpine:3\.20\.2 \(3\.20\.2, x86_64\): downloading [\d.]+ MB\n.*: [\d.]+ MB in [\d.]+s\nsha256:[0-9a-f]{64}\n$/);
  });
});

describe.skipIf(!isRoot)("pull failures: one line, exit 125, nothing half-written", () => {
  test("no network", async () => {
    const root = freshRoot();
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const port = (closed.address() as { port: number }).port;
    closed.close();
    const r = await cboxAsync(["pull", "--root", root, "--mirror", `http://127.0.0.1:${port}/alpine`, "alpine"]);
    expect(r).toEqual({
      code: 125,
      stdout: "",
      stderr: `cbox: cannot reach http://127.0.0.1:${port}: connection refused; check the network, or set --mirror or CBOX_ALPINE_MIRROR\n`,
    });
    expectNothingStored(root);
  });

  test("an unknown version names the URL and the versions the mirror lists", async () => {
    const root = freshRoot();
    const r = await pull(root, "alpine:3.20.9");
    const url = `${mirror.url}/v3.20/releases/x86_64/alpine-minirootfs-3.20.9-x86_64.tar.gz.sha256`;
    expect(r.stderr).toBe(`cbox: no alpine:3.20.9 for x86_64 on the mirror (${url}: 404 not found); the mirror lists 3.20.2, 3.20.3 in v3.20\n`);
    expect(r.code).toBe(125);
    const branch = await pull(root, "alpine:3.99");
    expect(branch.stderr).toBe(
      `cbox: no alpine:3.99 for x86_64 on the mirror (${mirror.url}/v3.99/releases/x86_64/latest-releases.yaml: 404 not found); the mirror lists edge, latest-stable, v3.19, v3.20\n`,
    );
    const notRelease = await pull(root, "alpine:banana");
    expect(notRelease.stderr).toBe("cbox: alpine:banana: not an Alpine release (latest, edge, X.Y or X.Y.Z)\n");
    // Anything but alpine[:TAG] comes from a registry (test/integration/registry-pull.test.ts).
    const other = await pull(root, "127.0.0.1:1/debian");
    expect(other.stderr).toBe("cbox: cannot reach the registry 127.0.0.1:1: connection refused\n");
    expectNothingStored(root);
  });

  test("a checksum mismatch", async () => {
    const root = freshRoot();
    mirror.fault({ kind: "wrong-hash" });
    try {
      const r = await pull(root, "alpine:3.20.2");
      const url = `${mirror.url}/v3.20/releases/x86_64/${tarballName(release("3.20.2"))}`;
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(new RegExp(`^cbox: checksum mismatch for ${url}: the mirror says sha256 [0-9a-f]{64}, the download is ${release("3.20.2").sha256}; nothing was stored\\n$`));
    } finally {
      mirror.fault(null);
    }
    expectNothingStored(root);
  });

  test("a connection cut mid-download", async () => {
    const root = freshRoot();
    mirror.fault({ kind: "cut", afterBytes: 300_000 });
    try {
      const r = await pull(root, "alpine:3.20.3");
      const url = `${mirror.url}/v3.20/releases/x86_64/${tarballName(release("3.20.3"))}`;
      expect(r.code).toBe(125);
      expect(r.stderr.split("\n")).toHaveLength(2);
      expect(r.stderr).toStartWith(`cbox: download of ${url} broke off: `);
      expect(r.stderr).toEndWith("; nothing was stored\n");
    } finally {
      mirror.fault(null);
    }
    expectNothingStored(root);
  });

  test("a full disk", async () => {
    const root = freshRoot();
    mkdirSync(root);
    // A 512 KiB tmpfs as the storage root, in a private mount namespace: nothing on the host.
    const script = `mount -t tmpfs -o size=512k cbox-full "$1" && "$2" pull -q --root "$1" --mirror "$3" alpine:3.20.3; echo "rc=$?"; find "$1" -mindepth 1 | sort`;
    const proc = Bun.spawn(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", root, cboxBin, mirror.url], { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toMatch(/^cbox: .*no space left on device.*\n$/);
    expect(out).toBe(`rc=125\n${root}/images\n`);
  });

  test("a cbox killed mid-download leaves a temp folder the next pull removes", async () => {
    const root = freshRoot();
    mirror.fault({ kind: "slow", bytesPerSecond: 200_000 });
    try {
      const proc = Bun.spawn([cboxBin, "pull", "-q", "--root", root, "--mirror", mirror.url, "alpine:3.19.4"], { stdout: "ignore", stderr: "ignore" });
      const images = join(root, "images");
      while (!existsSync(images) || !readdirSync(images).some((n) => n.startsWith(".tmp-"))) await Bun.sleep(20);
      proc.kill("SIGKILL");
      await proc.exited;
      expect(readdirSync(images).filter((n) => n.startsWith("."))).not.toEqual([]);
    } finally {
      mirror.fault(null);
    }
    const r = await pull(root, "-q", "alpine:3.20.2");
    expect(r.code).toBe(0);
    expect(readdirSync(join(root, "images")).sort()).toEqual([release("3.20.2").sha256, "tags"]);
  });
});

describe.skipIf(!isRoot)("pulls at once, and through a proxy", () => {
  test("two cbox processes pulling one image end with one copy, downloaded once, and both succeed", async () => {
    const root = freshRoot();
    mirror.fault({ kind: "slow", bytesPerSecond: 4_000_000 });
    const before = tarballRequests().length;
    try {
      const [a, b] = await Promise.all([pull(root, "-q", "alpine:3.19"), pull(root, "-q", "alpine:3.19.4")]);
      expect([a.code, b.code]).toEqual([0, 0]);
      expect(a.stdout).toBe(`sha256:${release("3.19.4").sha256}\n`);
      expect(b.stdout).toBe(a.stdout);
    } finally {
      mirror.fault(null);
    }
    expect(tarballRequests().length - before).toBe(1);
    expect(readdirSync(join(root, "images")).sort()).toEqual([release("3.19.4").sha256, "tags"]);
  });

  test("HTTP_PROXY is used, and NO_PROXY bypasses it", async () => {
    const seen: string[] = [];
    const proxy: Server = createServer((req, res) => {
      seen.push(req.url ?? "");
      const target = new URL(req.url ?? "");
      const up = request({ host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((ok) => proxy.listen(0, "127.0.0.1", ok));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const viaProxy = await cboxAsync(["pull", "-q", "--root", freshRoot(), "--mirror", mirror.url, "alpine:3.20.2"], { env: { HTTP_PROXY: proxyUrl } });
      expect(viaProxy.code).toBe(0);
      expect(seen.some((u) => u.endsWith(tarballName(release("3.20.2"))))).toBe(true);
      seen.length = 0;
      const direct = await cboxAsync(["pull", "-q", "--root", freshRoot(), "--mirror", mirror.url, "alpine:3.20.2"], {
        env: { HTTP_PROXY: proxyUrl, NO_PROXY: "127.0.0.1" },
      });
      expect(direct.code).toBe(0);
      expect(seen).toEqual([]);
    } finally {
      proxy.close();
    }
  });
});
