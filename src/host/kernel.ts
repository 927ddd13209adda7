// The kernel's release and the machine: cbox needs Linux 5.11 (close_range with CLOSE_RANGE_CLOEXEC
// since 5.11, overlayfs in user namespaces since 5.11) and has system call tables for two CPUs.
import { readFileSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { ARCHES } from "../linux/seccomp/arch.ts";
import { missing, ok, warn, type Check } from "./check.ts";
import type { HostFiles } from "./files.ts";

export interface KernelFacts {
  /** /proc/sys/kernel/osrelease: "6.1.0-18-amd64". */
  release: string;
  /** The machine as uname names it: x86_64, aarch64. */
  arch: string;
}

/** Node's names for the CPUs cbox can be built for, as uname says them. */
const UNAME_ARCH: Record<string, string> = { x64: "x86_64", arm64: "aarch64", arm: "armv7l", ia32: "i686", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", loong64: "loongarch64" };

export function readKernel(files: HostFiles, nodeArch = process.arch): KernelFacts {
  return {
    release: files.read("/proc/sys/kernel/osrelease")?.trim() || "unknown",
    // /proc/sys/kernel/arch came with Linux 6.1; before it, the CPU this program was built for.
    arch: files.read("/proc/sys/kernel/arch")?.trim() || UNAME_ARCH[nodeArch] || nodeArch,
  };
}

/** [major, minor] of a release such as "6.1.0-18-amd64", or undefined when it is not one. */
export function kernelVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Whether release is major.minor or later; false when it cannot be read. */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const v = kernelVersion(release);
  return !!v && (v[0] > major || (v[0] === major && v[1] >= minor));
}

export const MIN_KERNEL: [number, number] = [5, 11];

export function kernelCheck(k: KernelFacts): Check {
  const name = "kernel";
  const what = `Linux ${k.release} ${k.arch}`;
  if (!kernelVersion(k.release)) return warn(name, `${what}: cannot tell the version (cbox needs 5.11 or later)`, "check that /proc is mounted");
  if (!kernelAtLeast(k.release, ...MIN_KERNEL)) {
    return missing(name, `${what}: cbox needs Linux 5.11 or later (close_range with CLOEXEC, overlayfs in user namespaces)`, "upgrade the kernel to 5.11 or later");
  }
  if (!Object.hasOwn(ARCHES, k.arch)) {
    return warn(name, `${what}: cbox's seccomp filter knows only x86_64 and aarch64`, "run containers with --security-opt seccomp=unconfined");
  }
  return ok(name, what);
}

/** Refuses, in one line, to start anything on a kernel older than cbox needs (an unreadable version is let through). */
export function requireSupportedKernel(release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()): void {
  if (!kernelVersion(release) || kernelAtLeast(release, ...MIN_KERNEL)) return;
  throw new CboxError(`Linux ${release} is too old for cbox: it needs 5.11 or later (close_range with CLOEXEC, overlayfs in user namespaces); cbox info tells what else this host lacks`);
}
