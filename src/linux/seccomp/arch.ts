// The architectures cbox builds filters for: how the kernel tags a system call's ABI
// (seccomp_data.arch), how docker's profiles name it, and its system call numbers (the last two
// from the per-architecture table, src/sys/abi.ts).
import { ABIS } from "../../sys/abi.ts";

export type SeccompArch = "x86_64" | "aarch64";

export interface ArchInfo {
  /** AUDIT_ARCH_* (linux/audit.h): EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
  auditArch: number;
  /** Go's GOARCH, which docker's includes/excludes "arches" match against. */
  dockerName: string;
  /** The profile's SCMP_ARCH_* name. */
  scmpName: string;
  syscalls: () => Readonly<Record<string, number>>;
  /** x86_64 shares its AUDIT_ARCH with x32, whose numbers have this bit set; 0 where there is no such ABI. */
  x32Bit: number;
}

export const ARCHES: Record<SeccompArch, ArchInfo> = {
  x86_64: { auditArch: ABIS.x64.auditArch, dockerName: "amd64", scmpName: "SCMP_ARCH_X86_64", syscalls: ABIS.x64.syscalls, x32Bit: 0x40000000 },
  aarch64: { auditArch: ABIS.arm64.auditArch, dockerName: "arm64", scmpName: "SCMP_ARCH_AARCH64", syscalls: ABIS.arm64.syscalls, x32Bit: 0 },
};

/** The number of name on arch, or undefined when arch has no such call. */
export function syscallNumber(arch: SeccompArch, name: string): number | undefined {
  const table = ARCHES[arch].syscalls();
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** The architecture cbox itself runs on (containers run the same one). */
export function hostSeccompArch(nodeArch: string = process.arch): SeccompArch {
  if (nodeArch === "x64") return "x86_64";
  if (nodeArch === "arm64") return "aarch64";
  throw new Error(`seccomp: no system call table for the ${nodeArch} architecture (cbox knows x86_64 and aarch64)`);
}
