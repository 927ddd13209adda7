// The Debian 12 server image the test boots, built from Debian's packages and cached, keyed by
// its recipe: the debootstrap root (a tarball, keyed by the architecture and the package list) and
// the disk made from it with test/server/image/ (keyed by both). Each architecture has its own
// entries in the cache. A run never writes to the cache: it boots a copy-on-write overlay of the
// disk (vm.ts). The arm64 image is built on this x86_64 host with its programs emulated (binfmt.ts).
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { ARCH_INFO, ARCHES, type Arch } from "./arch.ts";
import { withAarch64Emulation } from "./binfmt.ts";
import { debianMirror } from "./host.ts";
import { InterruptedError, run, StepError } from "./shell.ts";

const SUITE = "bookworm";
/**
 * A small Debian 12 server: systemd, cgroup v2, Debian's 6.1 kernel; no compiler, no libc6-dev.
 * minbase has no netbase either (no /etc/protocols, as on minimal hosts and in containers).
 */
const packages = (arch: Arch) => [
  "systemd", "systemd-sysv", "dbus", "dbus-user-session", "udev", "kmod", "iproute2", "uidmap", "procps",
  "passwd", "login", "util-linux", "curl", "nftables", "slirp4netns",
  `linux-image-${ARCH_INFO[arch].debian}`, "initramfs-tools",
  "jq", // only the test uses it, to read cbox's JSON
];
/**
 * The arm64 image's initramfs holds only what mounts its root (virtio on qemu's virt machine, ext4),
 * the rest loads from the root. Debian's default (MODULES=most) copies hundreds of modules, a few
 * processes each: emulated, that took about 9 minutes, and installing the kernel makes the
 * initramfs twice (debootstrap took 24 minutes; with these, under 6). These files go into the root
 * between debootstrap's two stages, before the kernel is installed.
 */
const ARM64_INITRAMFS: Record<string, string> = {
  "etc/initramfs-tools/conf.d/cbox-test-server": "# Only the modules of modules.d/cbox-test-server (scripts/test-server/image.ts).\nMODULES=list\n",
  "usr/share/initramfs-tools/modules.d/cbox-test-server": "# The root device of the arm64 test server's VM (scripts/test-server/image.ts).\nvirtio_pci\nvirtio_mmio\nvirtio_blk\ncrc32c_generic\next4\n",
};
const initramfsFiles = (arch: Arch) => (arch === "arm64" ? ARM64_INITRAMFS : {});
const DISK_SIZE = "6G";
const RECIPE_DIR = join(import.meta.dir, "../../test/server/image");

export interface Image {
  disk: string; // raw ext4, the root file system (/dev/vda)
  kernel: string;
  initrd: string;
}
export interface ImageTimes { debootstrap?: number; disk?: number }

export const defaultCacheDir = () => process.env.CBOX_VM_CACHE || "/var/cache/cbox-test-server";

/**
 * The cached image of arch for the current recipe, built first when missing; times says what was
 * built, in seconds. signal's abort stops the build, which then leaves nothing behind.
 */
export async function ensureImage(cacheDir: string, arch: Arch, times: ImageTimes, signal: AbortSignal): Promise<Image> {
  const debArch = ARCH_INFO[arch].debian;
  const baseKey = sha256(JSON.stringify({ SUITE, debArch, packages: packages(arch), initramfs: initramfsFiles(arch) }));
  const imageKey = sha256(JSON.stringify({ baseKey, DISK_SIZE, files: recipeFiles() }));
  const imageDir = join(cacheDir, `image-${debArch}-${imageKey.slice(0, 16)}`);
  const baseTar = join(cacheDir, `base-${debArch}-${baseKey.slice(0, 16)}.tar`);
  const image = { disk: join(imageDir, "disk.img"), kernel: join(imageDir, "vmlinuz"), initrd: join(imageDir, "initrd.img") };
  if (existsSync(imageDir)) return image;

  mkdirSync(cacheDir, { recursive: true });
  const work = join(cacheDir, `.build-${process.pid}`);
  const root = join(work, "root");
  const log = join(work, "build.log");
  removeTree(work);
  mkdirSync(root, { recursive: true });
  // debootstrap and setup.sh run the image's own programs: arm64 ones are emulated.
  const emulated: <T>(step: () => Promise<T>) => Promise<T> = arch === "arm64" ? withAarch64Emulation : (step) => step();
  try {
    await emulated(async () => {
      const haveBase = existsSync(baseTar);
      if (!haveBase) times.debootstrap = await timed(() => debootstrap(arch, root, { logFile: log, signal }, baseTar));
      times.disk = await timed(async () => {
        if (haveBase) await run(["tar", "-x", "-f", baseTar, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root], { logFile: log, signal });
        await run(["cp", "-a", "--", `${RECIPE_DIR}/files/.`, root], { logFile: log, signal });
        await run(["chroot", root, "/bin/sh", "-s"], { logFile: log, stdin: join(RECIPE_DIR, "setup.sh"), signal });
        copyFileSync(bootFile(root, "vmlinuz-", arch), join(work, "vmlinuz"));
        copyFileSync(bootFile(root, "initrd.img-", arch), join(work, "initrd.img"));
        await run(["mke2fs", "-q", "-t", "ext4", "-L", "cbox-server", "-d", root, "-F", join(work, "disk.img"), DISK_SIZE], { logFile: log, signal });
      });
    });
    removeTree(root);
    if (existsSync(imageDir)) removeTree(work); // another run built the same recipe meanwhile
    else renameSync(work, imageDir);
  } catch (err) {
    removeTree(`${baseTar}.partial`);
    if (signal.aborted) {
      removeTree(work);
      throw new InterruptedError("the image's build was interrupted; nothing of it was kept");
    }
    const kept = join(cacheDir, "build-failed.log");
    if (existsSync(log)) copyFileSync(log, kept);
    removeTree(work);
    throw err instanceof StepError ? new StepError(`building the image failed: ${err.message}\n(the build's log: ${kept})`) : err;
  }
  removeStale(cacheDir, arch, [imageDir, baseTar]);
  return image;
}

async function debootstrap(arch: Arch, root: string, how: { logFile: string; signal: AbortSignal }, baseTar: string): Promise<void> {
  const mirror = debianMirror(SUITE);
  const debArch = ARCH_INFO[arch].debian;
  const about = arch === "arm64" ? "emulated: about 5 to 10 minutes" : "about 2 to 4 minutes";
  console.log(`image: debootstrap ${SUITE} ${debArch} (${packages(arch).length} packages and their dependencies; ${about})`);
  try {
    const args = ["--variant=minbase", `--arch=${debArch}`, `--include=${packages(arch).join(",")}`, SUITE, root, mirror];
    const before = Object.entries(initramfsFiles(arch));
    if (!before.length) await run(["debootstrap", ...args], how);
    else {
      await run(["debootstrap", "--foreign", ...args], how);
      for (const [path, text] of before) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      await run(["chroot", root, "/debootstrap/debootstrap", "--second-stage"], how);
    }
  } catch (err) {
    const debootstrapLog = join(root, "debootstrap/debootstrap.log");
    if (existsSync(debootstrapLog)) appendFileSync(how.logFile, `\n--- ${debootstrapLog}\n${readFileSync(debootstrapLog, "utf8")}`);
    throw err;
  }
  rmSync(join(root, "var/cache/apt/archives"), { recursive: true, force: true });
  mkdirSync(join(root, "var/cache/apt/archives/partial"), { recursive: true });
  const partial = `${baseTar}.partial`;
  await run(["tar", "-c", "-f", partial, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root, "."], how);
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

/** The one /boot file starting with prefix (the kernel linux-image-ARCH brought). */
function bootFile(root: string, prefix: string, arch: Arch): string {
  const found = readdirSync(join(root, "boot")).filter((f) => f.startsWith(prefix));
  if (found.length !== 1) throw new StepError(`the image's /boot has ${found.length} files named ${prefix}*; expected one (from linux-image-${ARCH_INFO[arch].debian} and initramfs-tools)`);
  return join(root, "boot", found[0]!);
}

/** Removes what an older recipe of arch left in the cache (and any unnamed older layout), keeping `keep`. */
function removeStale(cacheDir: string, arch: Arch, keep: string[]): void {
  const others = ARCHES.filter((a) => a !== arch).map((a) => ARCH_INFO[a].debian);
  for (const name of readdirSync(cacheDir)) {
    const path = join(cacheDir, name);
    const builder = /^\.build-(\d+)$/.exec(name)?.[1];
    if (builder && isRunning(Number(builder))) continue;
    if (others.some((other) => name.startsWith(`image-${other}-`) || name.startsWith(`base-${other}-`))) continue;
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
