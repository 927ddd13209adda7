// A seccomp profile as cbox holds it, whichever way it was written (cbox's default, a docker JSON
// file): a default action and an ordered list of rules, some of which apply only to certain
// capabilities, architectures or kernels, as in docker's format.
import { ARCHES, type SeccompArch } from "./arch.ts";

/** What a filter returns (SECCOMP_RET_* in linux/seccomp.h); the low 16 bits are the data. */
export const Ret = {
  killProcess: 0x80000000,
  killThread: 0x00000000,
  trap: 0x00030000,
  errno: (errno: number) => (0x00050000 | (errno & 0xffff)) >>> 0,
  /** Hands the call to a ptrace tracer; with none, the kernel fails it with ENOSYS. */
  trace: (data: number) => (0x7ff00000 | (data & 0xffff)) >>> 0,
  log: 0x7ffc0000,
  allow: 0x7fff0000,
} as const;

export const EPERM = 1;
export const ENOSYS = 38;

/** libseccomp's comparisons, unsigned on the full 64 bits. */
export type CompareOp = "EQ" | "NE" | "LT" | "LE" | "GT" | "GE" | "MASKED_EQ";

/** args[index] op value; for MASKED_EQ, (args[index] & value) == valueTwo. */
export interface ArgCheck {
  index: number;
  op: CompareOp;
  value: bigint;
  valueTwo: bigint;
}

/** Docker's includes/excludes: capability names, docker arch names (amd64, arm64...), "major.minor". */
export interface RuleFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

/** The calls in names return action when every check in args holds. */
export interface Rule {
  names: string[];
  action: number;
  args: ArgCheck[];
  /** The rule counts only when all of these hold. */
  includes?: RuleFilter;
  /** The rule does not count when any of these holds. */
  excludes?: RuleFilter;
}

export interface Profile {
  defaultAction: number;
  /** In order: the first rule that matches a call decides it. */
  rules: Rule[];
}

/** What a filter is built for: the container's architecture, capabilities, and the running kernel (uname -r). */
export interface FilterTarget {
  arch: SeccompArch;
  caps: ReadonlySet<string>;
  kernel: string;
}

/** [major, minor] of "6.18.0-foo" or "4.8"; undefined when it does not start that way. */
export function kernelVersion(text: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Whether kernel is at least min, comparing only major and minor, as docker does. */
export function kernelAtLeast(kernel: string, min: string): boolean {
  const have = kernelVersion(kernel);
  if (!have) throw new Error(`seccomp: cannot read the kernel version ${JSON.stringify(kernel)}`);
  const want = kernelVersion(min);
  if (!want) throw new Error(`seccomp: bad minKernel ${JSON.stringify(min)}`);
  return have[0] > want[0] || (have[0] === want[0] && have[1] >= want[1]);
}

/** Whether rule counts for target, by docker's reading of includes and excludes. */
export function ruleApplies(rule: Rule, target: FilterTarget): boolean {
  const arch = ARCHES[target.arch].dockerName;
  const ex = rule.excludes;
  if (ex?.arches?.includes(arch)) return false;
  if (ex?.caps?.some((c) => target.caps.has(c))) return false;
  if (ex?.minKernel && kernelAtLeast(target.kernel, ex.minKernel)) return false;
  const inc = rule.includes;
  if (inc?.arches?.length && !inc.arches.includes(arch)) return false;
  if (inc?.caps?.some((c) => !target.caps.has(c))) return false;
  if (inc?.minKernel && !kernelAtLeast(target.kernel, inc.minKernel)) return false;
  return true;
}
