// A server with nothing but the C library: a root holding only the files of Debian's libc6
// package (no libc6-dev, no headers, no compiler, no shell, no Node or Bun) and the release's
// executable (dist/release, which npm test builds). cbox must pull, run, run -d, exec, give a
// terminal, pull a layered image from a registry (whiteouts and opaque folders made through
// the shim) and report the host there.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { hostCpuArch } from "../../src/sys/abi.ts";
import { buildReleases, startMirror, type Mirror } from "../fixtures/mirror.ts";
import { pushImage, removeImageLayout, type PushedImage } from "../fixtures/oci-images.ts";
import { startRegistry, type Registry } from "../fixtures/registry.ts";
import { isRoot, removeDir, repo, tempDir, type Result } from "./helpers.ts";

const releaseBin = join(repo, `dist/release/cbox-linux-${hostCpuArch()}`);

let work: string;
let root: string;
let mirror: Mirror;
let registry: Registry;
let layered: PushedImage;

/** Debian 12's merged /usr: /bin, /lib, /lib64 and /sbin are links into /usr. */
const MERGED = ["bin", "lib", "lib64", "sbin"];

function libcOnlyRoot(dir: string): void {
  for (const d of MERGED) mkdirSync(join(dir, "usr", d), { recursive: true });
  for (const d of MERGED) symlinkSync(`usr/${d}`, join(dir, d));
  for (const d of ["proc", "sys", "dev", "tmp", "run", "etc"]) mkdirSync(join(dir, d), { recursive: true });
  // libc6 of this machine's architecture: arm64's is installed too (for qemu-user), and then a
  // bare "libc6" is ambiguous to dpkg.
  const arch = Bun.spawnSync(["dpkg", "--print-architecture"]).stdout.toString().trim();
  const listed = Bun.spawnSync(["dpkg", "-L", `libc6:${arch}`]);
  if (listed.exitCode !== 0) throw new Error(`dpkg -L libc6:${arch}: ${listed.stderr}`);
  const files = listed.stdout.toString().trim().split("\n");
  for (const file of files) {
    const st = lstatSync(file, { throwIfNoEntry: false });
    if (!st || st.isDirectory()) continue;
    const target = join(dir, file);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(file, target, { verbatimSymlinks: true });
  }
  if (!existsSync(releaseBin)) throw new Error(`${releaseBin} is missing: run npm run release first (npm test does)`);
  copyFileSync(releaseBin, join(dir, "cbox"));
}

/** Runs /cbox ARGS chrooted into the root, with /proc, /sys and /dev of the host, as a server has them. */
async function inRoot(args: string[]): Promise<Result> {
  const script = 'R=$1; shift; mount --bind "$R" "$R" && mount --rbind /proc "$R/proc" && mount --rbind /sys "$R/sys" && mount --rbind /dev "$R/dev" && mount -t tmpfs tmpfs "$R/tmp" && exec chroot "$R" /cbox "$@"';
  // Not spawnSync: the mirror answers from this process's event loop.
  const proc = Bun.spawn(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", root, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin", CBOX_TEST_RUN: process.env.CBOX_TEST_RUN ?? "" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

describe.skipIf(!isRoot)("a root with only the C library's files and cbox", () => {
  beforeAll(async () => {
    work = tempDir();
    root = join(work, "root");
    libcOnlyRoot(root);
    mirror = startMirror({ releases: await buildReleases(join(work, "mirror"), [{ branch: "v3.20", version: "3.20.3" }]), latestStable: "v3.20" });
    registry = await startRegistry();
    layered = await pushImage(registry, "layered");
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    await removeImageLayout();
    mirror?.stop();
    if (work) removeDir(work);
  });

  test("the root really has no compiler, no libc.so linker script, no headers, no shell", async () => {
    for (const absent of ["usr/lib/x86_64-linux-gnu/libc.so", "usr/lib/aarch64-linux-gnu/libc.so", "usr/include", "usr/bin/sh", "usr/bin/gcc", "usr/bin/bun"]) {
      expect(existsSync(join(root, absent))).toBe(false);
    }
    expect(await inRoot(["version"])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^cbox \d+\.\d+\.\d+ \(commit [0-9a-f]+(-dirty)?\)\n$/) });
  });

  test("pull from a mirror, then run, with --network none and on the bridge (no firewall tool: said)", async () => {
    expect(await inRoot(["pull", "-q", "--mirror", mirror.url, "alpine:3.20"])).toEqual({ code: 0, stdout: `sha256:${mirror.releases[0]!.sha256}\n`, stderr: "" });
    expect(await inRoot(["run", "--rm", "--network", "none", "alpine:3.20", "cat", "/etc/alpine-release"])).toMatchObject({ code: 0, stdout: "3.20.3\n" });
    const bridged = await inRoot(["run", "--rm", "alpine:3.20", "sh", "-c", "ip -4 -o addr show eth0 | grep -o 'inet 10\\.[0-9.]*'"]);
    expect(bridged.code).toBe(0);
    expect(bridged.stdout).toMatch(/^inet 10\.\d+\.\d+\.\d+\n$/);
    expect(bridged.stderr).toContain("cbox: warning: neither nft nor iptables is installed");
  });

  test("run -d, exec, logs, rm", async () => {
    try {
      const started = await inRoot(["run", "-d", "--network", "none", "--name", "bg", "alpine:3.20", "sh", "-c", "echo up; exec sleep 3201"]);
      expect(started).toMatchObject({ code: 0, stdout: expect.stringMatching(/^[0-9a-f]{64}\n$/) });
      expect(await inRoot(["exec", "bg", "sh", "-c", "echo $((6 * 7))"])).toMatchObject({ code: 0, stdout: "42\n" });
      expect(await inRoot(["logs", "bg"])).toMatchObject({ code: 0, stdout: "up\n" });
    } finally {
      expect(await inRoot(["rm", "-f", "bg"])).toMatchObject({ code: 0, stdout: "bg\n" });
    }
  });

  test("info: what this root offers, read from the kernel (no firewall tool, no newuidmap here; the chroot forbids user namespaces)", async () => {
    const r = await inRoot(["info"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const line = (name: string) => r.stdout.split("\n").find((l) => l.slice(9).startsWith(`${name} `)) ?? `(no ${name} line)`;
    expect(line("kernel")).toStartWith("ok       kernel ");
    expect(line("overlayfs")).toStartWith("ok ");
    expect(line("cgroups")).toStartWith("ok ");
    expect(line("seccomp")).toStartWith("ok ");
    expect(line("firewall")).toStartWith("warn     firewall           neither nft nor iptables is installed");
    expect(line("newuidmap")).toStartWith("warn     newuidmap          not installed");
    // The chroot is told by comparing / with PID 1's root, which some sandboxes close even to root.
    const initRootReadable = Bun.spawnSync(["stat", "/proc/1/root/"], { stderr: "ignore" }).exitCode === 0;
    expect(line("user namespaces")).toContain(initRootReadable ? "cbox runs in a chroot, where the kernel allows none" : "but making one failed: operation not permitted");
    const json = JSON.parse((await inRoot(["info", "--format", "json"])).stdout);
    expect(json.images).toBe(1);
  });

  test("-t: the command gets a terminal of the container's own devpts", async () => {
    expect(await inRoot(["run", "--rm", "-t", "--network", "none", "alpine:3.20", "tty"])).toMatchObject({ code: 0, stdout: "/dev/pts/0\r\n" });
  });

  test("a registry image: pulled, its whiteout and opaque folder honoured, then removed with its layers", async () => {
    // No HOME and no /etc/passwd here: no stored login, so the pull is anonymous.
    expect(await inRoot(["pull", "-q", layered.ref])).toEqual({ code: 0, stdout: `${layered.ref}\n`, stderr: "" });
    const run = await inRoot(["run", "--rm", "--network", "none", layered.ref, "sh", "-c", "ls /data; ls /opq; cat /hard/b"]);
    expect(run).toMatchObject({ code: 0, stdout: "keep\nowned\nnew\nhard\n" });
    expect((await inRoot(["rmi", layered.ref])).code).toBe(0);
    const layers = join(root, "var/lib/cbox/layers");
    expect(existsSync(layers) ? readdirSync(layers).filter((d) => /^[0-9a-f]{64}$/.test(d)) : []).toEqual([]);
    expect(await inRoot(["logout", registry.host])).toEqual({
      code: 125,
      stdout: "",
      stderr: "cbox: there is no home folder to keep registry logins in (HOME is not set and this user has no passwd entry): set HOME or DOCKER_CONFIG\n",
    });
  });
});
