// The C shim as a shared library, built with gcc (or its aarch64 cross-compiler) at build time
// and embedded in the executable: a server needs no compiler, no libc headers and no libc.so
// linker script to start a container (DESIGN.md, fact 10).
//
// -nostdlib: no crt files and no DT_NEEDED entry; the shim's calls into libc resolve against the
// libc Bun has already loaded when cbox dlopens the library, so the library itself pins no libc
// version and no libc soname.
import { $ } from "bun";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ABIS, hostCpuArch, type CpuArch } from "../src/sys/abi.ts";

export type Arch = CpuArch;

const compilers: Record<Arch, string> = { x64: "x86_64-linux-gnu-gcc", arm64: "aarch64-linux-gnu-gcc" };
const packages: Record<Arch, string> = { x64: "gcc-x86-64-linux-gnu (or gcc on x86_64)", arm64: "gcc-aarch64-linux-gnu" };

const sourceDir = join(import.meta.dir, "../src/sys/c");
// In the order they depend on each other (no headers: a file uses what an earlier one defines).
const sources = ["prelude.c", "mounts.c", "child.c", "security.c", "plan.c", "spawn.c", "monitor.c", "host.c", "stdio.c", "bpf.c", "net.c"];

const flags = [
  "-std=gnu11", "-O2", "-fPIC", "-shared", "-nostdlib", "-s",
  "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror",
  "-Wl,-z,noexecstack", "-Wl,-z,now", "-Wl,--hash-style=both",
  "-ffile-prefix-map=" + sourceDir + "=.",
];

/** The compiler for arch on this machine, or undefined (a host gcc builds its own arch). */
export function compilerFor(arch: Arch): string | undefined {
  if (Bun.which(compilers[arch])) return compilers[arch];
  return arch === hostCpuArch() && Bun.which("gcc") ? "gcc" : undefined;
}

/**
 * Compiles src/sys/c/*.c for arch into outfile (one translation unit: the files are joined, as
 * they always were). Returns an error text instead of throwing when no compiler is found.
 */
export async function buildShimLibrary(arch: Arch, outfile: string): Promise<string | undefined> {
  const unlisted = readdirSync(sourceDir).filter((f) => f.endsWith(".c") && !sources.includes(f));
  if (unlisted.length) return `src/sys/c/${unlisted.join(", ")}: add to the sources list in scripts/shim-lib.ts`;
  const cc = compilerFor(arch);
  if (!cc) return `no C compiler for linux-${arch}: install ${packages[arch]}`;
  mkdirSync(join(outfile, ".."), { recursive: true });
  const text = await shimSource(arch);
  const res = await $`${cc} ${flags} -x c - -o ${outfile} < ${Buffer.from(text)}`.quiet().nothrow();
  if (res.exitCode !== 0) return `${cc} failed on src/sys/c:\n${res.stderr}`;
  return undefined;
}

/**
 * The one translation unit: src/sys/c's files in order, after a #define of every SYS_name they
 * use, numbered for arch from the per-architecture table (no #ifdef per CPU in the C).
 */
export async function shimSource(arch: Arch): Promise<string> {
  const files = await Promise.all(sources.map(async (f) => `#line 1 "${f}"\n${await Bun.file(join(sourceDir, f)).text()}`));
  const used = [...new Set(files.join("\n").match(/\bSYS_\w+/g) ?? [])].sort();
  const defines = used.map((sys) => {
    const nr = ABIS[arch].syscalls()[sys.slice(4)];
    if (nr === undefined) throw new Error(`src/sys/c uses ${sys}, which ${ABIS[arch].machine} has no number for`);
    return `#define ${sys} ${nr}`;
  });
  return [...defines, ...files].join("\n");
}
