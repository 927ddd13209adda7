// What a service image's config asks of its containers: -P publishes its ExposedPorts, cbox stop
// sends its StopSignal, each of its Volumes is an anonymous volume filled from the image
// (removed by rm -v and --rm, kept by a plain rm, as docker does), its Labels are shown.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGES, pushImage, removeImageLayout, type PushedImage } from "../fixtures/oci-images.ts";
import { startRegistry, type Registry } from "../fixtures/registry.ts";
import { cboxAsync, isRoot, removeDir, tempDir } from "./helpers.ts";

let work: string;
let reg: Registry;
let service: PushedImage;
let root: string;
const started: string[] = [];
const cbox = (...args: string[]) => cboxAsync(args, { env: { CBOX_ROOT: root } });
const volumes = () => (existsSync(join(root, "volumes")) ? readdirSync(join(root, "volumes")).sort() : []);

beforeAll(async () => {
  work = tempDir();
  root = join(work, "store");
  reg = await startRegistry();
  service = await pushImage(reg, "service");
  expect((await cbox("pull", "-q", service.ref)).code).toBe(0);
}, 120_000);
afterAll(async () => {
  for (const id of started) await cbox("rm", "-f", "-v", id);
  await reg?.stop();
  await removeImageLayout();
  if (work) removeDir(work);
});

async function runDetached(...args: string[]): Promise<string> {
  const r = await cbox("run", "-d", ...args);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  const id = r.stdout.trim();
  started.push(id);
  return id;
}

async function logsUntil(id: string, text: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const logs = (await cbox("logs", id)).stdout;
    if (logs.includes(text)) return logs;
    await Bun.sleep(50);
  }
  return (await cbox("logs", id)).stdout;
}

describe.skipIf(!isRoot)("a service image's config", () => {
  test("image inspect shows ExposedPorts, Volumes, StopSignal and Labels", async () => {
    const [inspect] = JSON.parse((await cbox("image", "inspect", service.ref)).stdout);
    const c = IMAGES.service.config!;
    expect(inspect.Config).toMatchObject({ ExposedPorts: { "8080/tcp": {} }, Volumes: { "/srv/data": {} }, StopSignal: c.StopSignal, Labels: c.Labels });
  });

  test("-P publishes the exposed port on a free host port; cbox stop sends SIGUSR1, which the image asks for", async () => {
    const id = await runDetached("-P", service.ref);
    expect(await logsUntil(id, "ready")).toBe("ready\n");
    const port = (await cbox("port", id)).stdout;
    expect(port).toMatch(/^8080\/tcp -> 0\.0\.0\.0:\d+\n$/);
    expect((await cbox("stop", "-t", "20", id)).code).toBe(0);
    expect(await logsUntil(id, "stopped-by-usr1")).toBe("ready\nstopped-by-usr1\n");
    const [inspect] = JSON.parse((await cbox("inspect", id)).stdout);
    expect(inspect.State.ExitCode).toBe(0);
  }, 60_000);

  test("--stop-signal overrides the image's", async () => {
    const id = await runDetached("--stop-signal", "KILL", "--network", "none", service.ref);
    await logsUntil(id, "ready");
    expect((await cbox("stop", id)).code).toBe(0);
    const [inspect] = JSON.parse((await cbox("inspect", id)).stdout);
    expect([inspect.State.ExitCode, (await cbox("logs", id)).stdout]).toEqual([137, "ready\n"]);
  }, 60_000);

  test("each of the image's Volumes is a volume of the container's own, filled from the image", async () => {
    const before = volumes();
    const write = await cbox("run", "--name", "vol-keep", "--network", "none", service.ref, "sh", "-c", "cat /srv/data/seed; echo mine > /srv/data/written; grep -c ' /srv/data ' /proc/self/mountinfo");
    expect(write).toEqual({ code: 0, stdout: "seed\n1\n", stderr: "" });
    started.push("vol-keep");
    const made = volumes().filter((v) => !before.includes(v));
    expect(made).toHaveLength(1);
    const data = join(root, "volumes", made[0]!, "_data");
    expect([readFileSync(join(data, "seed"), "utf8"), readFileSync(join(data, "written"), "utf8")]).toEqual(["seed\n", "mine\n"]);
    // The image's own layer is untouched: a new container starts from the seed again.
    expect((await cbox("run", "--rm", "--network", "none", service.ref, "ls", "/srv/data")).stdout).toBe("seed\n");
    expect((await cbox("rm", "vol-keep")).code).toBe(0);
    expect(existsSync(data)).toBe(true); // a plain rm keeps it, as docker does
    removeDir(join(root, "volumes", made[0]!));
  }, 60_000);

  test("rm -v and run --rm remove the anonymous volume; a -v over the same path makes none", async () => {
    const before = volumes();
    expect((await cbox("run", "--rm", "--network", "none", service.ref, "true")).code).toBe(0);
    expect(volumes()).toEqual(before);
    expect((await cbox("run", "--name", "vol-rm", "--network", "none", service.ref, "true")).code).toBe(0);
    started.push("vol-rm");
    expect(volumes()).toHaveLength(before.length + 1);
    expect((await cbox("rm", "-v", "vol-rm")).code).toBe(0);
    expect(volumes()).toEqual(before);
    const host = join(work, "host-data");
    mkdirSync(host);
    const bound = await cbox("run", "--rm", "--network", "none", "-v", `${host}:/srv/data`, service.ref, "sh", "-c", "ls -A /srv/data; echo ok");
    expect(bound.stdout).toBe("ok\n");
    expect(volumes()).toEqual(before);
  }, 60_000);
});
