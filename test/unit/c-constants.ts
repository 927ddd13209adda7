// What C constant expressions come to on an architecture, as its compiler and headers say:
// each expression becomes a global the compiler evaluates, read back from the assembly it writes
// (-S), so nothing runs and the cross-compiler's arm64 headers answer for arm64.
import { compilerFor, type Arch } from "../../scripts/shim-lib.ts";

export function compiler(arch: Arch): string {
  const cc = compilerFor(arch);
  if (!cc) throw new Error(`no C compiler for ${arch}: sh scripts/install-test-deps.sh installs gcc and gcc-aarch64-linux-gnu`);
  return cc;
}

/**
 * The value of each expression, compiled after `prelude` for arch. With `allowMissing`, keys whose
 * expression names something the headers do not declare are left out instead of failing.
 */
export function evaluate(arch: Arch, prelude: string, exprs: Record<string, string>, allowMissing = false): Map<string, bigint> {
  let keys = Object.keys(exprs);
  for (let attempt = 0; attempt < 4; attempt++) {
    const firstLine = prelude.split("\n").length + 1;
    const body = keys.map((k) => `long long cbox_value_${k} = (long long)(${exprs[k]});`).join("\n");
    const res = Bun.spawnSync([compiler(arch), "-std=gnu11", "-fno-zero-initialized-in-bss", "-w", "-S", "-o", "-", "-x", "c", "-"], {
      stdin: Buffer.from(`${prelude}\n${body}\n`),
    });
    const stderr = res.stderr.toString();
    if (res.exitCode === 0) return readValues(res.stdout.toString());
    const failed = new Set([...stderr.matchAll(/^<stdin>:(\d+):\d+: error:/gm)].map((m) => keys[Number(m[1]) - firstLine]).filter((k) => k !== undefined));
    if (!allowMissing || failed.size === 0) throw new Error(`${compiler(arch)} could not evaluate the constants:\n${stderr.slice(0, 3000)}`);
    keys = keys.filter((k) => !failed.has(k));
  }
  throw new Error(`${compiler(arch)}: still failing after leaving out what the headers lack`);
}

function readValues(assembly: string): Map<string, bigint> {
  const values = new Map<string, bigint>();
  for (const m of assembly.matchAll(/^cbox_value_(\w+):\s*\n\s*\.(quad|xword|8byte|zero)\s+(-?\d+)/gm)) {
    values.set(m[1]!, m[2] === "zero" ? 0n : BigInt(m[3]!)); // ".zero 8": gcc's way of writing a 0
  }
  return values;
}

/** Every `#define NAME <integer literal>` of C source text, with its value (C's octal, hex or decimal). */
export function integerDefines(text: string): Map<string, bigint> {
  const defines = new Map<string, bigint>();
  for (const m of text.matchAll(/^#define (\w+) (-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)\b\s*(?:\/\*.*\*\/)?$/gm)) {
    const [, name, sign, literal] = m;
    const value = /^0[0-7]+$/.test(literal!) ? BigInt(`0o${literal!.slice(1)}`) : BigInt(literal!);
    defines.set(name!, sign ? -value : value);
  }
  return defines;
}
