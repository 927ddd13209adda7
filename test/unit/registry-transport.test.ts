// The registry transport against real HTTP servers on 127.0.0.1: redirects, where the
// credentials go, retries of 429 and 5xx, and size limits.
import { afterEach, describe, expect, test } from "bun:test";
import { readLimited, request, retryDelayMs } from "../../src/image/registry/transport.ts";

const servers: ReturnType<typeof Bun.serve>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
});

function serve(fetch: (req: Request) => Response | Promise<Response>) {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch });
  servers.push(s);
  return s;
}

describe("request", () => {
  test("a redirect to another origin is followed without the credentials; one to the same origin keeps them", async () => {
    const seen: { where: string; auth: string | null }[] = [];
    const storage = serve((req) => {
      seen.push({ where: "storage", auth: req.headers.get("authorization") });
      return new Response("blob");
    });
    const registry = serve((req) => {
      const path = new URL(req.url).pathname;
      seen.push({ where: path, auth: req.headers.get("authorization") });
      if (path === "/v2/a/blobs/x") return Response.redirect(`/v2/a/blobs/y`, 307);
      return Response.redirect(`http://127.0.0.1:${storage.port}/data`, 302);
    });
    const res = await request(`http://127.0.0.1:${registry.port}/v2/a/blobs/x`, { authorization: "Bearer secret", what: "the blob" });
    expect(await res.text()).toBe("blob");
    expect(seen).toEqual([
      { where: "/v2/a/blobs/x", auth: "Bearer secret" },
      { where: "/v2/a/blobs/y", auth: "Bearer secret" },
      { where: "storage", auth: null },
    ]);
  });

  test("more than 5 redirects is one line", async () => {
    const loop = serve(() => Response.redirect("/again", 302));
    await expect(request(`http://127.0.0.1:${loop.port}/v2/`, { what: "the manifest of x" })).rejects.toThrow(`the manifest of x: more than 5 redirects from 127.0.0.1:${loop.port}`);
  });

  test("429 and 503 are tried again (Retry-After: 0 honoured); a 404 is returned at once", async () => {
    let tries = 0;
    const busy = serve(() => (++tries < 3 ? new Response("busy", { status: tries === 1 ? 429 : 503, headers: { "retry-after": "0" } }) : new Response("ok")));
    const res = await request(`http://127.0.0.1:${busy.port}/v2/`, { what: "x" });
    expect([res.status, await res.text(), tries]).toEqual([200, "ok", 3]);
    let missing = 0;
    const gone = serve(() => (missing++, new Response("no", { status: 404 })));
    expect((await request(`http://127.0.0.1:${gone.port}/v2/`, { what: "x" })).status).toBe(404);
    expect(missing).toBe(1);
  });

  test("a 5xx that lasts is returned after 4 tries", async () => {
    let tries = 0;
    const down = serve(() => (tries++, new Response("down", { status: 502, headers: { "retry-after": "0" } })));
    expect((await request(`http://127.0.0.1:${down.port}/v2/`, { what: "x" })).status).toBe(502);
    expect(tries).toBe(4);
  });
});

test("retryDelayMs: 250 ms doubled, Retry-After's seconds instead, never over 10 s", () => {
  expect([1, 2, 3, 4].map((n) => retryDelayMs(n, null))).toEqual([250, 500, 1000, 2000]);
  expect(retryDelayMs(1, "2")).toBe(2000);
  expect(retryDelayMs(1, "3600")).toBe(10_000);
  expect(retryDelayMs(9, null)).toBe(10_000);
  expect(retryDelayMs(2, "Wed, 21 Oct 2015 07:28:00 GMT")).toBe(500);
});

test("readLimited refuses a body over the limit, declared or not", async () => {
  const big = serve(() => new Response("x".repeat(2000)));
  const declared = await fetch(`http://127.0.0.1:${big.port}/`);
  await expect(readLimited(declared, 1000, "the manifest of x")).rejects.toThrow("the manifest of x is 2000 bytes, over cbox's limit of 1000: refused");
  const streamed = serve(() => new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("y".repeat(1500))); c.close(); } })));
  const undeclared = await fetch(`http://127.0.0.1:${streamed.port}/`);
  await expect(readLimited(undeclared, 1000, "the config of x")).rejects.toThrow(/^the config of x is (more than|over) /);
});
