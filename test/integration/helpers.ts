// Shared helpers for integration tests: real containers, started with the built dist/cbox.
import { afterAll, beforeAll } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MASKED_PATHS, READ_ONLY_PATHS } from "../../src/linux/mounts.ts";
import { cgroupView } from "../../src/linux/cgroups/mount-plan.ts";

export const repo = resolve(import.meta.dir, "../..");
export const cboxBin = join(repo, "dist/cbox");

export const isRoot = process.getuid!() === 0;

if (!existsSync(cboxBin)) throw new Error(`${cboxBin} is missing: run npm run build first (npm test does)`);
// Root's containers default to the bridge network: outside npm test's private network namespace
// they would put cbox0 and firewall rules on this machine's own network.
if (isRoot && process.env.CBOX_TEST_NETNS !== String(statSync("/proc/self/ns/net").ino)) {
  throw new Error("run the integration tests as root through npm test (scripts/test.ts gives them a network namespace of their own)");
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunAs {
  uid: number;
  gid: number;
  home: string;
}

export function tempDir(prefix = "cbox-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * The usual fixture of a test file: a temp folder holding the test rootfs, and a store path in it;
 * made before the file's tests, removed after them.
 */
export function rootfsFixture(): { work: string; rootfs: string; store: string } {
  const fx = { work: "", rootfs: "", store: "" };
  beforeAll(() => {
    fx.work = tempDir();
    fx.rootfs = buildRootfs(join(fx.work, "rootfs"));
    fx.store = join(fx.work, "store");
  });
  afterAll(() => removeDir(fx.work));
  return fx;
}

/** Builds the Alpine-shaped busybox rootfs with the project's recipe, as the given user. */
export function buildRootfs(dir: string, as?: RunAs): string {
  const res = Bun.spawnSync([...asUser(as), "sh", join(repo, "rootfs/build.sh"), dir], { stderr: "pipe" });
  if (res.exitCode !== 0) throw new Error(`rootfs/build.sh failed: ${res.stderr}`);
  return dir;
}

/** The test rootfs as a tar of its files, in work: for podman import. */
export function rootfsTar(work: string): string {
  const rootfs = buildRootfs(join(work, "rootfs"));
  const tar = join(work, "rootfs.tar");
  if (Bun.spawnSync(["tar", "-C", rootfs, "-cf", tar, "."]).exitCode !== 0) throw new Error("tar of the test rootfs failed");
  return tar;
}

/** The test rootfs as a docker archive of image (cbox import, then cbox save), in work: for docker load and ctr import. */
export function rootfsImageArchive(work: string, image: string): string {
  const store = join(work, "cbox-archive-store");
  const archive = join(work, "image.tar");
  for (const args of [["import", "--root", store, rootfsTar(work), image], ["save", "--root", store, "-o", archive, image]]) {
    const res = cbox(args);
    if (res.code !== 0) throw new Error(`cbox ${args[0]}: ${res.stderr}`);
  }
  return archive;
}

export function asUser(as?: RunAs): string[] {
  return as ? ["setpriv", `--reuid=${as.uid}`, `--regid=${as.gid}`, "--clear-groups", "--"] : [];
}

export interface CboxOptions {
  as?: RunAs;
  stdin?: string;
  env?: Record<string, string>;
}

/** Runs dist/cbox to the end. */
export function cbox(args: string[], opts: CboxOptions = {}): Result {
  const res = Bun.spawnSync([...asUser(opts.as), cboxBin, ...args], {
    stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...baseEnv(opts.as), ...opts.env },
  });
  return { code: res.exitCode ?? -1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

/** Runs dist/cbox without blocking this process (for tests that serve it, e.g. a mirror). */
export async function cboxAsync(args: string[], opts: CboxOptions = {}): Promise<Result> {
  const proc = Bun.spawn([...asUser(opts.as), cboxBin, ...args], {
    stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...baseEnv(opts.as), ...opts.env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Starts dist/cbox in the background (for signal tests); stdout is readable line by line. */
export function cboxSpawn(args: string[], opts: CboxOptions = {}) {
  return Bun.spawn([...asUser(opts.as), cboxBin, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...baseEnv(opts.as), ...opts.env },
  });
}

export function baseEnv(as?: RunAs): Record<string, string> {
  // CBOX_TEST_RUN marks what this test run started, even a detached container's monitor (test/leftovers.ts).
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", CBOX_TEST_RUN: process.env.CBOX_TEST_RUN ?? "" };
  if (as) env.HOME = as.home;
  // A user's containers get loopback only: the network tests ask for slirp4netns themselves.
  if (as) env.CBOX_ROOTLESS_NETWORK = "none";
  return env;
}

/** Reads a process's output progressively: wait for a text, then take the rest. */
export class OutputReader {
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private decoder = new TextDecoder();
  seen = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  /** Resolves once `text` has appeared (or the stream ended); returns everything read so far. */
  async until(text: string): Promise<string> {
    while (!this.seen.includes(text)) {
      const { value, done } = await this.reader.read();
      if (done) break;
      this.seen += this.decoder.decode(value);
    }
    return this.seen;
  }

  /** Everything the stream gave, to its end. */
  async all(): Promise<string> {
    for (;;) {
      const { value, done } = await this.reader.read();
      if (done) return this.seen;
      this.seen += this.decoder.decode(value);
    }
  }
}

/**
 * Every path under dir with its type, size, mode and mtime: a fingerprint to prove nothing
 * changed. Folders whose entries come and go (a store) compare without their own mtimes.
 */
export function treeListing(dir: string, folderMtimes = true): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      const mtime = st?.isDirectory() && !folderMtimes ? "" : st?.mtimeMs;
      out.push(`${p.slice(dir.length)} ${st?.isDirectory() ? "d" : (st?.size ?? "?")} ${st?.mode.toString(8)} ${mtime}`);
      if (st?.isDirectory() && !statSync(p).isSymbolicLink()) walk(p);
    }
  };
  walk(dir);
  return out;
}

export function hostMounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").trim().split("\n").map((l) => l.split(" ").slice(4, 5).join(" "));
}

/** Host processes whose command line holds marker (give containers a unique argument). */
export function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    const cmdline = safeRead(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
    if (cmdline.includes(marker) && Number(pid) !== process.pid) found.push(`${pid} ${cmdline}`);
  }
  return found;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** /proc/PID/stat from field 3 on: [state, ppid, pgrp, session, ...]. */
export function procStat(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The pid of the container's PID 1 as the host sees it: the only child of the cbox process. */
export function containerPid(cboxPid: number): number {
  const children = safeRead(`/proc/${cboxPid}/task/${cboxPid}/children`).trim().split(/\s+/).filter(Boolean);
  if (children.length !== 1) throw new Error(`cbox ${cboxPid} has children [${children}]`);
  return Number(children[0]);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Every cgroup mount point of this host (v1 hierarchies and cgroup2), from the mount table. */
export function cgroupMounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f[3] === "/" && ["cgroup", "cgroup2"].includes(f[f.indexOf("-") + 1] ?? ""))
    .map((f) => f[4]!);
}

/** cbox's cgroups (the `cbox` parents and what is in them) in every hierarchy: [] when none is left. */
export function cboxCgroups(): string[] {
  return cgroupMounts().flatMap((m) => {
    const parent = join(m, "cbox");
    if (!existsSync(parent)) return [];
    return [parent, ...readdirSync(parent).filter((n) => statSync(join(parent, n)).isDirectory()).map((n) => join(parent, n))];
  });
}

/**
 * An ordinary user made for a test file, with subordinate ids (subStart, 65536 of them) so that
 * its containers have 0..65535, and a rootfs built as that user in a folder it owns. Made before
 * the file's tests (as root), removed after them, /etc/subuid and /etc/subgid restored.
 */
export function rootlessUserFixture(name: string, subStart: number): { as: RunAs; work: string; rootfs: string; store: string } {
  const fx = { as: { uid: -1, gid: -1, home: "" }, work: "", rootfs: "", store: "" };
  const saved: Record<string, string> = {};
  const run = (...cmd: string[]) => {
    const r = Bun.spawnSync(cmd, { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
    return r.stdout.toString().trim();
  };
  beforeAll(() => {
    if (!isRoot) return;
    Bun.spawnSync(["userdel", "-r", name], { stderr: "ignore" });
    run("useradd", "-m", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-s", "/bin/sh", name);
    fx.as = { uid: Number(run("id", "-u", name)), gid: Number(run("id", "-g", name)), home: `/home/${name}` };
    for (const file of ["/etc/subuid", "/etc/subgid"]) {
      saved[file] = existsSync(file) ? readFileSync(file, "utf8") : "";
      const others = saved[file]!.split("\n").filter((l) => l && !l.startsWith(`${name}:`));
      writeFileSync(file, [...others, `${name}:${subStart}:65536`, ""].join("\n"));
    }
    fx.work = tempDir();
    chmodSync(fx.work, 0o755);
    const dir = join(fx.work, "user");
    run("install", "-d", "-o", String(fx.as.uid), "-g", String(fx.as.gid), dir);
    fx.rootfs = buildRootfs(join(dir, "rootfs"), fx.as);
    fx.store = join(dir, "store");
  });
  afterAll(() => {
    if (!isRoot) return;
    for (const [file, text] of Object.entries(saved)) writeFileSync(file, text);
    Bun.spawnSync(["userdel", "-r", name], { stderr: "ignore" });
    if (fx.work) removeDir(fx.work);
  });
  return fx;
}

/** What a container has mounted at /sys/fs/cgroup on this host: cgroup2 there, or a tmpfs and a folder per v1 hierarchy. */
export function cgroupfsMountPoints(): string[] {
  const view = cgroupView(readFileSync("/proc/self/mountinfo", "utf8"));
  if (view.version === 0) return [];
  return ["/sys/fs/cgroup", ...(view.version === 1 ? view.folders.map((f) => `/sys/fs/cgroup/${f.name}`) : [])];
}

/** The /proc and /sys paths cbox masks or makes read-only that this kernel has: mount points in every container. */
export function maskedAndReadOnlyPaths(): string[] {
  return [...MASKED_PATHS, ...READ_ONLY_PATHS].filter((p) => existsSync(p));
}
