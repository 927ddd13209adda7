// What the host needs for the server test: root, a few Debian packages, and the Debian mirror
// apt already uses (read from apt's sources, never written here).
import { existsSync, readFileSync } from "node:fs";
import type { Arch } from "./arch.ts";
import { QEMU_AARCH64 } from "./binfmt.ts";
import { StepError } from "./shell.ts";

/** Each command (or file) the test runs on the host, and the Debian package that has it. */
const TOOLS: Record<Arch | "all", [command: string, pkg: string][]> = {
  all: [
    ["debootstrap", "debootstrap"],
    ["mke2fs", "e2fsprogs"],
    ["qemu-img", "qemu-utils"],
    ["chroot", "coreutils"],
    ["setsid", "util-linux"], // the build's steps run in a process group of their own (shell.ts)
    ["tar", "tar"],
    // The Alpine-shaped image the guest pulls (rootfs/build.sh).
    ["busybox", "busybox-static"],
    ["musl-gcc", "musl-tools"],
  ],
  x64: [["qemu-system-x86_64", "qemu-system-x86"]],
  arm64: [
    ["qemu-system-aarch64", "qemu-system-arm"],
    // Runs the arm64 image's programs while it is built (binfmt.ts), and rootfs/build.sh's busybox.
    [QEMU_AARCH64, "qemu-user-static"],
    ["/lib/ld-linux-aarch64.so.1", "libc6:arm64"], // the version the arm64 binary prints, read on the host
    // The aarch64 rootfs: musl's loader and a musl binary built for aarch64; busybox-static:arm64
    // is downloaded (it cannot be installed beside the host's).
    ["/lib/aarch64-linux-musl/libc.so", "musl:arm64"],
    ["aarch64-linux-musl-gcc", "musl-dev:arm64"],
    ["aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"],
    ["apt-get", "apt"],
    ["dpkg-deb", "dpkg"],
  ],
};

export function checkHost(arch: Arch): void {
  if (process.getuid?.() !== 0) throw new StepError("the server test needs root (debootstrap, chroot and mke2fs build the image); run it with sudo");
  // The arm64 guest is emulated too, and its image is built with x86_64 tools around emulated arm64 ones.
  if (process.arch !== "x64") throw new StepError(`the server test runs on an x86_64 host; this one is ${process.arch}`);
  const found = (cmd: string) => (cmd.startsWith("/") ? existsSync(cmd) : Bun.which(cmd));
  const missing = [...TOOLS.all, ...TOOLS[arch]].filter(([cmd]) => !found(cmd)).map(([, pkg]) => pkg);
  if (missing.length) throw new StepError(`missing host packages; install them with: apt-get install -y ${[...new Set(missing)].join(" ")}`);
}

/** The first URI apt uses for Debian's main suite (deb822 sources, or the one-line format). */
export function debianMirror(suite: string): string {
  const deb822 = "/etc/apt/sources.list.d/debian.sources";
  if (existsSync(deb822)) {
    for (const stanza of readFileSync(deb822, "utf8").split(/\n\s*\n/)) {
      const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, "mi").exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      if (field("Suites").includes(suite) && field("Types").includes("deb") && field("URIs")[0]) return field("URIs")[0]!;
    }
  }
  const list = "/etc/apt/sources.list";
  if (existsSync(list)) {
    for (const line of readFileSync(list, "utf8").split("\n")) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m && m[2] === suite) return m[1]!;
    }
  }
  throw new StepError(`found no Debian mirror for ${suite} in ${deb822} or ${list}; the image is built from the mirror apt uses`);
}

/** debootstrap, chroot and mke2fs live in sbin, which an ordinary PATH (sudo, CI) may lack. */
export function addSbinToPath(): void {
  const dirs = (process.env.PATH ?? "/usr/bin:/bin").split(":");
  process.env.PATH = [...dirs, ...["/usr/local/sbin", "/usr/sbin", "/sbin"].filter((d) => !dirs.includes(d))].join(":");
}
