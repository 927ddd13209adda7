// The numbers cbox hands the kernel that differ between the CPUs it runs on. arm64 takes
// asm-generic's values; x86_64 kept some of its own (open flags), has its own system call numbers
// and its own AUDIT_ARCH. Everything else cbox passes (errno and signal numbers, clone flags,
// ioctls, struct termios, the shim's constants) is the same on both, and
// test/unit/abi-headers.test.ts checks both kinds against each architecture's kernel headers.
import { aarch64Syscalls } from "../linux/seccomp/syscalls-aarch64.ts";
import { x86_64Syscalls } from "../linux/seccomp/syscalls-x86_64.ts";

export type CpuArch = "x64" | "arm64";

export interface Abi {
  /** uname's name for the machine. */
  machine: "x86_64" | "aarch64";
  /** AUDIT_ARCH_* (linux/audit.h): what seccomp_data.arch holds for a native system call. */
  auditArch: number;
  /** System call numbers by name (generated from the kernel's tables: scripts/gen-syscalls.ts), built on first use. */
  syscalls: () => Readonly<Record<string, number>>;
  /** x86_64's O_DIRECTORY is arm64's O_DIRECT: a flag with the other's value is a different flag. */
  O_DIRECTORY: number;
  O_NOFOLLOW: number;
  /** __O_TMPFILE | O_DIRECTORY, as the kernel wants it. */
  O_TMPFILE: number;
}

const __O_TMPFILE = 0o20000000;

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

export const ABIS: Record<CpuArch, Abi> = {
  x64: {
    machine: "x86_64",
    auditArch: 0xc000003e,
    syscalls: once(x86_64Syscalls),
    O_DIRECTORY: 0o200000,
    O_NOFOLLOW: 0o400000,
    O_TMPFILE: __O_TMPFILE | 0o200000,
  },
  arm64: {
    machine: "aarch64",
    auditArch: 0xc00000b7,
    syscalls: once(aarch64Syscalls),
    O_DIRECTORY: 0o40000,
    O_NOFOLLOW: 0o100000,
    O_TMPFILE: __O_TMPFILE | 0o40000,
  },
};

/** The CPU cbox itself was built for, which is the one its containers run on. */
export function hostCpuArch(nodeArch: string = process.arch): CpuArch {
  if (nodeArch === "x64" || nodeArch === "arm64") return nodeArch;
  throw new Error(`cbox is built for x64 and arm64 only, not ${nodeArch}`);
}

export const hostAbi = (): Abi => ABIS[hostCpuArch()];
