import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { CboxError } from "../../src/errors.ts";
import { httpGet, httpText, HttpStatusError } from "../../src/image/http.ts";
import { DEFAULT_MIRROR, mirrorBase, resolveAlpine } from "../../src/image/mirror.ts";
import { alpineRelease } from "../../src/image/ref.ts";

const SHA_LATEST = "1".repeat(64);
const SHA_3203 = "3".repeat(64);
const SHA_3201 = "abcdef0123456789".repeat(4);

const yaml = (flavors: { flavor: string; version: string; file: string; sha256: string }[]) =>
  "---\n" +
  flavors
    .map((f) =>
      [
        "-",
        `  title: "${f.flavor}"`,
        `  desc: "One line"`,
        "  branch: v3.20",
        "  arch: x86_64",
        `  version: ${f.version}`,
        `  flavor: ${f.flavor}`,
        `  file: ${f.file}`,
        "  date: 2024-09-06",
        "  time: 07:10:43",
        `  sha256: ${f.sha256}`,
        "",
      ].join("\n"),
    )
    .join("");

const index = (names: string[]) =>
  `<html><head><title>Index</title></head><body><pre><a href="../">../</a>\n${names.map((n) => `<a href="${n}">${n}</a>    06-Sep-2024 07:10   -`).join("\n")}\n</pre></body></html>\n`;

const files: Record<string, string> = {
  "/alpine/": index(["v3.9/", "v3.20/", "edge/", "latest-stable/", "v3.19/", "MIRRORS.txt", "vfoo/"]),
  "/alpine/latest-stable/releases/x86_64/latest-releases.yaml": yaml([
    { flavor: "alpine-standard", version: "3.20.3", file: "alpine-standard-3.20.3-x86_64.iso", sha256: "f".repeat(64) },
    { flavor: "alpine-netboot", version: "3.20.3", file: "alpine-netboot-3.20.3-x86_64.tar.gz", sha256: "e".repeat(64) },
    { flavor: "alpine-minirootfs", version: "3.20.3", file: "alpine-minirootfs-3.20.3-x86_64.tar.gz", sha256: SHA_LATEST },
    { flavor: "alpine-virt", version: "3.20.3", file: "alpine-virt-3.20.3-x86_64.iso", sha256: "d".repeat(64) },
  ]),
  "/alpine/v3.19/releases/x86_64/latest-releases.yaml": yaml([
    { flavor: "alpine-standard", version: "3.19.4", file: "alpine-standard-3.19.4-x86_64.iso", sha256: "f".repeat(64) },
  ]),
  "/alpine/edge/releases/x86_64/latest-releases.yaml": yaml([
    { flavor: "alpine-minirootfs", version: "20240923", file: "alpine-minirootfs-20240923-x86_64.tar.gz", sha256: "not-a-hash" },
  ]),
  "/alpine/v3.20/releases/x86_64/": index([
    "alpine-minirootfs-3.20.3-x86_64.tar.gz",
    "alpine-minirootfs-3.20.3-x86_64.tar.gz.sha256",
    "alpine-minirootfs-3.20.1-x86_64.tar.gz",
    "alpine-minirootfs-3.20.1-x86_64.tar.gz.sha256",
    "alpine-minirootfs-3.20.0-aarch64.tar.gz",
    "alpine-standard-3.20.2-x86_64.iso",
    "latest-releases.yaml",
  ]),
  "/alpine/v3.20/releases/x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz.sha256": `${SHA_3203}  alpine-minirootfs-3.20.3-x86_64.tar.gz\n`,
  "/alpine/v3.20/releases/x86_64/alpine-minirootfs-3.20.1-x86_64.tar.gz.sha256": `\n${SHA_3201}\n`,
  "/alpine/v3.20/releases/x86_64/alpine-minirootfs-3.20.9-x86_64.tar.gz.sha256": "<html>oops</html>\n",
};

let server: ReturnType<typeof Bun.serve>;
let base: string; // http://127.0.0.1:PORT/alpine
let origin: string;

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path.startsWith("/broken/")) return new Response("oops\n", { status: 500 });
      const body = files[path];
      return body === undefined ? new Response("404 Not Found\n", { status: 404 }) : new Response(body);
    },
  });
  origin = `http://127.0.0.1:${server.port}`;
  base = `${origin}/alpine`;
});
afterAll(() => server.stop(true));

async function rejection(p: Promise<unknown>): Promise<CboxError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CboxError);
    return err as CboxError;
  }
  throw new Error("expected a rejection");
}

describe("resolveAlpine", () => {
  test("latest picks the minirootfs entry of latest-stable's yaml", async () => {
    const img = await resolveAlpine(base, alpineRelease("latest")!, "x86_64", "latest");
    expect(img).toEqual({
      url: `${base}/latest-stable/releases/x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz`,
      sha256: SHA_LATEST,
      version: "3.20.3",
      date: "2024-09-06T07:10:43Z",
    });
  });

  test("an exact version reads its .sha256 file, without a date", async () => {
    const img = await resolveAlpine(base, alpineRelease("3.20.3")!, "x86_64", "3.20.3");
    expect(img).toEqual({
      url: `${base}/v3.20/releases/x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz`,
      sha256: SHA_3203,
      version: "3.20.3",
    });
    expect(img.date).toBeUndefined();
  });

  test("a .sha256 file holding only the hash, around blank lines", async () => {
    const img = await resolveAlpine(base, alpineRelease("3.20.1")!, "x86_64", "3.20.1");
    expect(img.sha256).toBe(SHA_3201);
  });

  test("a .sha256 file holding no hash", async () => {
    const url = `${base}/v3.20/releases/x86_64/alpine-minirootfs-3.20.9-x86_64.tar.gz`;
    const err = await rejection(resolveAlpine(base, alpineRelease("3.20.9")!, "x86_64", "3.20.9"));
    expect(err.message).toBe(`${url}.sha256 holds no sha256 checksum`);
  });

  test("an unknown exact version: the URL and the versions of its branch, sorted", async () => {
    const err = await rejection(resolveAlpine(base, alpineRelease("3.20.2")!, "x86_64", "3.20.2"));
    const url = `${base}/v3.20/releases/x86_64/alpine-minirootfs-3.20.2-x86_64.tar.gz.sha256`;
    expect(err.message).toBe(`no alpine:3.20.2 for x86_64 on the mirror (${url}: 404 not found); the mirror lists 3.20.1, 3.20.3 in v3.20`);
    expect(err).not.toBeInstanceOf(HttpStatusError);
  });

  test("an unknown branch: the branches the mirror lists", async () => {
    const err = await rejection(resolveAlpine(base, alpineRelease("3.99")!, "x86_64", "3.99"));
    const url = `${base}/v3.99/releases/x86_64/latest-releases.yaml`;
    expect(err.message).toBe(`no alpine:3.99 for x86_64 on the mirror (${url}: 404 not found); the mirror lists edge, latest-stable, v3.9, v3.19, v3.20`);
  });

  test("an exact version on an unknown branch falls back to the branches", async () => {
    const err = await rejection(resolveAlpine(base, alpineRelease("3.99.1")!, "x86_64", "3.99.1"));
    expect(err.message).toStartWith(`no alpine:3.99.1 for x86_64 on the mirror (${base}/v3.99/releases/x86_64/alpine-minirootfs-3.99.1-x86_64.tar.gz.sha256: 404 not found); `);
    expect(err.message).toEndWith("; the mirror lists edge, latest-stable, v3.9, v3.19, v3.20");
  });

  test("an architecture the branch lacks", async () => {
    const err = await rejection(resolveAlpine(base, alpineRelease("3.20")!, "riscv64", "3.20"));
    expect(err.message).toBe(
      `no alpine:3.20 for riscv64 on the mirror (${base}/v3.20/releases/riscv64/latest-releases.yaml: 404 not found); the mirror lists edge, latest-stable, v3.9, v3.19, v3.20`,
    );
  });

  test("a mirror without readable indexes says so", async () => {
    const empty = `${origin}/nothing`;
    const err = await rejection(resolveAlpine(empty, alpineRelease("latest")!, "x86_64", "latest"));
    expect(err.message).toBe(
      `no alpine:latest for x86_64 on the mirror (${empty}/latest-stable/releases/x86_64/latest-releases.yaml: 404 not found); the mirror lists nothing that could be read`,
    );
  });

  test("a yaml without a minirootfs entry", async () => {
    const err = await rejection(resolveAlpine(base, alpineRelease("3.19")!, "x86_64", "3.19"));
    expect(err.message).toBe(`${base}/v3.19/releases/x86_64/latest-releases.yaml lists no alpine-minirootfs release with a file, version and sha256`);
  });

  test("a minirootfs entry whose sha256 is no hash", async () => {
    const err = await rejection(resolveAlpine(base, alpineRelease("edge")!, "x86_64", "edge"));
    expect(err.message).toBe(`${base}/edge/releases/x86_64/latest-releases.yaml lists no alpine-minirootfs release with a file, version and sha256`);
  });

  test("an HTTP error other than 404 is not explained away", async () => {
    const broken = `${origin}/broken`;
    const err = await rejection(resolveAlpine(broken, alpineRelease("latest")!, "x86_64", "latest"));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(err.message).toBe(`GET ${broken}/latest-stable/releases/x86_64/latest-releases.yaml: HTTP 500`);
    expect((err as HttpStatusError).status).toBe(500);
  });
});

describe("mirrorBase", () => {
  const saved = process.env.CBOX_ALPINE_MIRROR;
  afterEach(() => {
    if (saved === undefined) delete process.env.CBOX_ALPINE_MIRROR;
    else process.env.CBOX_ALPINE_MIRROR = saved;
  });

  test("the flag, without trailing slashes", () => {
    process.env.CBOX_ALPINE_MIRROR = "http://env.example/alpine";
    expect(mirrorBase("http://flag.example/alpine///")).toBe("http://flag.example/alpine");
    expect(mirrorBase("http://flag.example/alpine")).toBe("http://flag.example/alpine");
  });

  test("CBOX_ALPINE_MIRROR when no flag (or an empty one) is given", () => {
    process.env.CBOX_ALPINE_MIRROR = "http://env.example/alpine/";
    expect(mirrorBase()).toBe("http://env.example/alpine");
    expect(mirrorBase("")).toBe("http://env.example/alpine");
  });

  test("the CDN otherwise", () => {
    delete process.env.CBOX_ALPINE_MIRROR;
    expect(mirrorBase()).toBe(DEFAULT_MIRROR);
    expect(DEFAULT_MIRROR).toBe("https://dl-cdn.alpinelinux.org/alpine");
    process.env.CBOX_ALPINE_MIRROR = "";
    expect(mirrorBase()).toBe(DEFAULT_MIRROR);
  });
});

describe("httpGet", () => {
  test("a closed port: cannot reach the origin, connection refused", async () => {
    const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const port = s.port;
    s.stop(true);
    const err = await rejection(httpGet(`http://127.0.0.1:${port}/alpine/x.yaml`));
    expect(err.message).toBe(`cannot reach http://127.0.0.1:${port}: connection refused; check the network, or set --mirror or CBOX_ALPINE_MIRROR`);
    expect(err).not.toBeInstanceOf(HttpStatusError);
  });

  test("a 404 is an HttpStatusError with the URL and the status", async () => {
    const url = `${base}/missing`;
    const err = await rejection(httpGet(url));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).url).toBe(url);
    expect((err as HttpStatusError).status).toBe(404);
    expect(err.message).toBe(`GET ${url}: HTTP 404`);
  });

  test("httpText returns the body", async () => {
    expect(await httpText(`${base}/v3.20/releases/x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz.sha256`)).toBe(
      `${SHA_3203}  alpine-minirootfs-3.20.3-x86_64.tar.gz\n`,
    );
  });
});
