// The release's arm64 executable, run on this x86_64 machine by qemu's user-mode emulation
// (qemu-aarch64-static, with Debian's libc6:arm64): what works without a kernel of its own, and
// the unit tests run by the arm64 Bun inside it (BUN_BE_BUN=1 makes a compiled executable act as
// bun). qemu-user refuses clone with namespace flags, so no container can start here: the test
// says so; containers on arm64 are the arm64 test server's (scripts/test-server.ts --arch arm64).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildReleases, startMirror, type Mirror } from "../fixtures/mirror.ts";
import { removeDir, repo, tempDir, type Result } from "./helpers.ts";

const QEMU = "/usr/bin/qemu-aarch64-static";
const ARM64_LOADER = "/lib/ld-linux-aarch64.so.1";
const arm64Bin = join(repo, "dist/release/cbox-linux-arm64");
const x64Bin = join(repo, "dist/release/cbox-linux-x64");
const ALPINE = { branch: "v3.20", version: "3.20.3" };

let work: string;
let mirror: Mirror;

/** The arm64 cbox under qemu, with a store of its own. Async: the mirror answers from this process. */
async function arm64(args: string[], env: Record<string, string> = {}, cwd = work): Promise<Result> {
  const proc = Bun.spawn([QEMU, arm64Bin, ...args], {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin", CBOX_ROOT: join(work, "store"), CBOX_TEST_RUN: process.env.CBOX_TEST_RUN ?? "", ...env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Each cbox call under qemu takes a second or more (Bun's start, emulated). */
const SLOW = 120_000;

describe.skipIf(process.arch !== "x64")("the arm64 executable under qemu-user", () => {
  beforeAll(async () => {
    for (const [file, pkg] of [[QEMU, "qemu-user-static"], [ARM64_LOADER, "libc6:arm64"], [arm64Bin, "(npm run release builds it)"]]) {
      if (!existsSync(file!)) throw new Error(`${file} is missing: ${pkg} (sh scripts/install-test-deps.sh installs the packages)`);
    }
    work = tempDir("cbox-arm64-");
    // An aarch64 minirootfs, as an arm64 host pulls: busybox-static:arm64, which npm test
    // downloads before the tests (they run without a network).
    const busybox = process.env.CBOX_TEST_ARM64_BUSYBOX;
    if (!busybox || !existsSync(busybox)) throw new Error("CBOX_TEST_ARM64_BUSYBOX names no busybox-static:arm64: run the tests through npm test (scripts/test.ts), which downloads it");
    mirror = startMirror({ releases: await buildReleases(join(work, "mirror"), [ALPINE], "aarch64", busybox), latestStable: ALPINE.branch });
  }, SLOW);

  afterAll(() => {
    mirror?.stop();
    if (work) removeDir(work);
  });

  test("--version says what the x86_64 executable of the same release says", async () => {
    const x64 = Bun.spawnSync([x64Bin, "--version"]).stdout.toString();
    expect(x64).toMatch(/^cbox \d+\.\d+\.\d+ \(commit [0-9a-f]{12}(-dirty)?\)\n$/);
    expect(await arm64(["--version"])).toEqual({ code: 0, stdout: x64, stderr: "" });
  }, SLOW);

  test("info runs, and shows that user namespaces cannot be made here (qemu-user refuses them)", async () => {
    const r = await arm64(["info"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^warn +user namespaces .*making one failed: invalid argument/m);
    const json = JSON.parse((await arm64(["info", "--format", "json"])).stdout);
    expect(json.images).toBe(0);
  }, SLOW);

  test("pull from a mirror, import, images, rmi", async () => {
    const pulled = await arm64(["pull", "-q", "--mirror", mirror.url, "alpine:3.20"]);
    expect(pulled).toEqual({ code: 0, stdout: `sha256:${mirror.releases[0]!.sha256}\n`, stderr: "" });
    expect(mirror.requests).toContain(`/alpine/v3.20/releases/aarch64/alpine-minirootfs-3.20.3-aarch64.tar.gz`);

    const tarball = join(work, "mirror", `alpine-minirootfs-3.20.3-aarch64.tar.gz`);
    const imported = await arm64(["import", tarball, "mine:1"]);
    expect(imported).toMatchObject({ code: 0, stdout: expect.stringMatching(/^sha256:[0-9a-f]{64}\n$/) });

    const images = await arm64(["images"]);
    expect(images.code).toBe(0);
    expect(images.stdout).toMatch(/^alpine +3\.20 /m);
    expect(images.stdout).toMatch(/^mine +1 /m);

    expect(await arm64(["rmi", "mine:1", "alpine:3.20"])).toMatchObject({ code: 0 });
    expect((await arm64(["images", "-q"])).stdout).toBe("");
  }, SLOW);

  test("run: qemu-user refuses the container's namespaces; cbox says so in one line, exit 125, and keeps nothing", async () => {
    expect((await arm64(["pull", "-q", "--mirror", mirror.url, "alpine:3.20"])).code).toBe(0);
    const r = await arm64(["run", "--network", "none", "alpine:3.20", "true"]);
    expect(r).toEqual({ code: 125, stdout: "", stderr: "cbox: cannot create the container's namespaces: invalid argument\n" });
    expect(await arm64(["ps", "-a", "-q"])).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readdirSync(join(work, "store", "containers"), { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  }, SLOW);

  test("the unit tests pass in the arm64 Bun, with the arm64 shim", async () => {
    const tree = unitTestTree(join(work, "tree"));
    const r = await arm64(["test", "test/unit"], { BUN_BE_BUN: "1", CBOX_TEST_QEMU_USER: "1", PATH: `${join(tree, "bin")}:/usr/bin:/bin:/usr/sbin:/sbin` }, tree);
    const summary = r.stderr.split("\n").filter((l) => /^ \d+ (pass|fail|skip)$/.test(l));
    expect({ code: r.code, summary }, r.stderr.slice(-4000)).toMatchObject({ code: 0, summary: expect.arrayContaining([expect.stringMatching(/^ [1-9]\d{2,} pass$/), " 0 fail"]) });
  }, 600_000);
});

/**
 * A copy of the sources and tests in which dist/shim/cbox-shim.so (what src/sys/shim.ts loads
 * when run from source) is the arm64 library; `bun` and dist/cbox are scripts that run the arm64
 * executable under qemu, since the kernel here cannot exec an arm64 program itself.
 */
function unitTestTree(tree: string): string {
  for (const part of ["src", "test", "scripts", "rootfs", "package.json", "bunfig.toml"]) cpSync(join(repo, part), join(tree, part), { recursive: true });
  symlinkSync(join(repo, "node_modules"), join(tree, "node_modules"));
  mkdirSync(join(tree, "dist/shim"), { recursive: true });
  copyFileSync(join(repo, "dist/shim/linux-arm64/cbox-shim.so"), join(tree, "dist/shim/cbox-shim.so"));
  mkdirSync(join(tree, "bin"));
  const script = (path: string, env: string) => {
    writeFileSync(path, `#!/bin/sh\nexec env ${env} ${QEMU} ${arm64Bin} "$@"\n`);
    chmodSync(path, 0o755);
  };
  script(join(tree, "bin/bun"), "BUN_BE_BUN=1");
  script(join(tree, "dist/cbox"), "-u BUN_BE_BUN");
  return tree;
}
