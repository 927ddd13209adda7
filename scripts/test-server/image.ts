// The Debian 12 server image the test boots, built from Debian's packages and cached, keyed by
// its recipe: the debootstrap root (a tarball, keyed by the package list) and the disk made from
// it with test/server/image/ (keyed by both). A run never writes to the cache: it boots a
// copy-on-write overlay of the disk (vm.ts).
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { debianMirror } from "./host.ts";
import { run, StepError } from "./shell.ts";

const SUITE = "bookworm";
/**
 * A small Debian 12 server: systemd, cgroup v2, Debian's 6.1 kernel; no compiler, no libc6-dev.
 * minbase has no netbase either (no /etc/protocols, as on minimal hosts and in containers).
 */
const PACKAGES = [
  "systemd", "systemd-sysv", "dbus", "dbus-user-session", "udev", "kmod", "iproute2", "uidmap", "procps",
  "passwd", "login", "util-linux", "curl", "nftables", "slirp4netns",
  "linux-image-amd64", "initramfs-tools",
  "jq", // only the test uses it, to read cbox's JSON
];
const DISK_SIZE = "6G";
const RECIPE_DIR = join(import.meta.dir, "../../test/server/image");

export interface Image {
  disk: string; // raw ext4, the root file system (/dev/vda)
  kernel: string;
  initrd: string;
}
export interface ImageTimes { debootstrap?: number; disk?: number }

export const defaultCacheDir = () => process.env.CBOX_VM_CACHE || "/var/cache/cbox-test-server";

/** The cached image for the current recipe, built first when missing; times says what was built, in seconds. */
export async function ensureImage(cacheDir: string, times: ImageTimes): Promise<Image> {
  const baseKey = sha256(JSON.stringify({ SUITE, PACKAGES }));
  const imageKey = sha256(JSON.stringify({ baseKey, DISK_SIZE, files: recipeFiles() }));
  const imageDir = join(cacheDir, `image-${imageKey.slice(0, 16)}`);
  const image = { disk: join(imageDir, "disk.img"), kernel: join(imageDir, "vmlinuz"), initrd: join(imageDir, "initrd.img") };
  if (existsSync(imageDir)) return image;

  mkdirSync(cacheDir, { recursive: true });
  const work = join(cacheDir, `.build-${process.pid}`);
  const root = join(work, "root");
  const log = join(work, "build.log");
  removeTree(work);
  mkdirSync(root, { recursive: true });
  try {
    const baseTar = join(cacheDir, `base-${baseKey.slice(0, 16)}.tar`);
    const haveBase = existsSync(baseTar);
    if (!haveBase) times.debootstrap = await timed(() => debootstrap(root, log, baseTar));
    times.disk = await timed(async () => {
      if (haveBase) await run(["tar", "-x", "-f", baseTar, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root], { logFile: log });
      await run(["cp", "-a", "--", `${RECIPE_DIR}/files/.`, root], { logFile: log });
      await run(["chroot", root, "/bin/sh", "-s"], { logFile: log, stdin: join(RECIPE_DIR, "setup.sh") });
      copyFileSync(bootFile(root, "vmlinuz-"), join(work, "vmlinuz"));
      copyFileSync(bootFile(root, "initrd.img-"), join(work, "initrd.img"));
      await run(["mke2fs", "-q", "-t", "ext4", "-L", "cbox-server", "-d", root, "-F", join(work, "disk.img"), DISK_SIZE], { logFile: log });
    });
    removeTree(root);
    if (existsSync(imageDir)) removeTree(work); // another run built the same recipe meanwhile
    else renameSync(work, imageDir);
  } catch (err) {
    const kept = join(cacheDir, "build-failed.log");
    if (existsSync(log)) copyFileSync(log, kept);
    removeTree(work);
    throw err instanceof StepError ? new StepError(`building the image failed: ${err.message}\n(the build's log: ${kept})`) : err;
  }
  removeStale(cacheDir, [imageDir, join(cacheDir, `base-${baseKey.slice(0, 16)}.tar`)]);
  return image;
}

async function debootstrap(root: string, log: string, baseTar: string): Promise<void> {
  const mirror = debianMirror(SUITE);
  console.log(`image: debootstrap ${SUITE} (${PACKAGES.length} packages and their dependencies; about 2 to 4 minutes)`);
  try {
    const args = ["--variant=minbase", `--include=${PACKAGES.join(",")}`, SUITE, root, mirror];
    await run(["debootstrap", ...args], { logFile: log });
  } catch (err) {
    const debootstrapLog = join(root, "debootstrap/debootstrap.log");
    if (existsSync(debootstrapLog)) appendFileSync(log, `\n--- ${debootstrapLog}\n${readFileSync(debootstrapLog, "utf8")}`);
    throw err;
  }
  rmSync(join(root, "var/cache/apt/archives"), { recursive: true, force: true });
  mkdirSync(join(root, "var/cache/apt/archives/partial"), { recursive: true });
  const partial = `${baseTar}.partial`;
  await run(["tar", "-c", "-f", partial, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root, "."], { logFile: log });
  renameSync(partial, baseTar);
}

/** Every file of test/server/image with its content: what the disk's key depends on. */
function recipeFiles(): [string, string][] {
  const files: [string, string][] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push([relative(RECIPE_DIR, path), sha256(readFileSync(path))]);
    }
  };
  walk(RECIPE_DIR);
  return files;
}

/** The one /boot file starting with prefix (the kernel linux-image-amd64 brought). */
function bootFile(root: string, prefix: string): string {
  const found = readdirSync(join(root, "boot")).filter((f) => f.startsWith(prefix));
  if (found.length !== 1) throw new StepError(`the image's /boot has ${found.length} files named ${prefix}*; expected one (from linux-image-amd64 and initramfs-tools)`);
  return join(root, "boot", found[0]!);
}

/** Removes what an older recipe left in the cache, keeping `keep`. */
function removeStale(cacheDir: string, keep: string[]): void {
  for (const name of readdirSync(cacheDir)) {
    const path = join(cacheDir, name);
    const builder = /^\.build-(\d+)$/.exec(name)?.[1];
    if (builder && isRunning(Number(builder))) continue;
    if (/^(image-|base-|\.build-)/.test(name) && !keep.includes(path)) removeTree(path);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * rm -rf that first unmounts whatever a failed debootstrap left mounted under dir (its /proc,
 * /sys), and never crosses into another file system.
 */
export function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(`${dir}/`)).reverse();
  for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
  if (statSync(dir).isDirectory()) Bun.spawnSync(["rm", "-rf", "--one-file-system", "--", dir]);
  else rmSync(dir, { force: true });
  if (existsSync(dir)) throw new StepError(`could not remove ${dir}; remove it by hand`);
}

async function timed(step: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await step();
  return Math.round((performance.now() - start) / 100) / 10;
}

function sha256(data: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}
