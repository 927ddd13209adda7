// Docker's seccomp profile format (moby/profiles seccomp, read as docker and runc read it) into a
// Profile. Every mistake is reported on one line that names the file and the field.
import { readFileSync } from "node:fs";
import { describeErrno } from "../../errors.ts";
import { type ArgCheck, type CompareOp, EPERM, type Profile, Ret, type Rule, type RuleFilter } from "./profile.ts";

// The architectures are checked but otherwise unused: cbox filters only the native ABI.
const SCMP_ARCHES = new Set(
  "X86 X86_64 X32 ARM AARCH64 MIPS MIPS64 MIPS64N32 MIPSEL MIPSEL64 MIPSEL64N32 PPC PPC64 PPC64LE S390 S390X PARISC PARISC64 RISCV64 LOONGARCH64 M68K SH SHEB"
    .split(" ")
    .map((a) => `SCMP_ARCH_${a}`),
);

const OPS: Record<string, CompareOp> = {
  SCMP_CMP_NE: "NE", SCMP_CMP_LT: "LT", SCMP_CMP_LE: "LE", SCMP_CMP_EQ: "EQ",
  SCMP_CMP_GE: "GE", SCMP_CMP_GT: "GT", SCMP_CMP_MASKED_EQ: "MASKED_EQ",
};

const MAX_ERRNO = 4095;
const U64_MAX = (1n << 64n) - 1n;

type Obj = Record<string, unknown>;

/** The profile in file; null when it has neither defaultAction nor syscalls (docker then runs unconfined). */
export function loadDockerProfile(file: string): Profile | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).errno;
    throw new Error(`${file}: cannot read it: ${errno ? describeErrno(errno) : (err as Error).message}`);
  }
  return parseDockerProfile(text, file);
}

/** The profile in text, read from file (named in errors). */
export function parseDockerProfile(text: string, file: string): Profile | null {
  const fail = (where: string, what: string): never => {
    throw new Error(`${file}: ${where ? `${where}: ` : ""}${what}`.replace(/\s*\n\s*/g, " "));
  };
  let json: unknown;
  try {
    json = JSON.parse(text, exactIntegers);
  } catch (err) {
    fail("", `not valid JSON: ${(err as Error).message}`);
  }
  const top = object(json, "", fail);
  const syscalls = list(top.syscalls, "syscalls", fail);
  if (!top.defaultAction && syscalls.length === 0) return null;
  if (top.listenerPath) fail("listenerPath", "seccomp notification (SCMP_ACT_NOTIFY) is not supported");
  if (list(top.flags, "flags", fail).length > 0) fail("flags", "filter flags are not supported");
  checkArches(top, fail);
  const defaultErrno = errno(top.defaultErrnoRet, "defaultErrnoRet", fail);
  const defaultAction = action(top.defaultAction, defaultErrno, "defaultAction", fail);
  const rules: Rule[] = [];
  syscalls.forEach((entry, i) => {
    const rule = syscallRule(object(entry, `syscalls[${i}]`, fail), `syscalls[${i}]`, fail);
    // As runc: a rule that would do what the default does is left out (it then cannot shadow a later one).
    if (rule.action !== defaultAction) rules.push(rule);
  });
  return { defaultAction, rules };
}

type Fail = (where: string, what: string) => never;

/** value and valueTwo are uint64: read them from their source text, as a double would round them. */
function exactIntegers(this: unknown, key: string, value: unknown, context?: { source?: string }): unknown {
  if ((key === "value" || key === "valueTwo") && typeof value === "number") {
    if (context?.source && /^\d+$/.test(context.source)) return BigInt(context.source);
    if (Number.isSafeInteger(value)) return BigInt(value);
  }
  return value;
}

function object(v: unknown, where: string, fail: Fail): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(where, `must be an object, not ${describe(v)}`);
  return v as Obj;
}

/** An array; absent or null is empty, as Go's decoder makes it. */
function list(v: unknown, where: string, fail: Fail): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(where, `must be an array, not ${describe(v)}`);
  return v as unknown[];
}

function strings(v: unknown, where: string, fail: Fail): string[] {
  return list(v, where, fail).map((s, i) => (typeof s === "string" ? s : fail(`${where}[${i}]`, `must be a string, not ${describe(s)}`)));
}

function required(v: unknown, where: string, fail: Fail): void {
  if (v === undefined || v === null) fail(where, "is missing");
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "bigint") return `the number ${v}`;
  return typeof v === "object" ? "an object" : `the ${typeof v} ${JSON.stringify(v)}`;
}

function checkArches(top: Obj, fail: Fail): void {
  const known = (name: string, where: string) => {
    if (!SCMP_ARCHES.has(name)) fail(where, `unknown architecture ${JSON.stringify(name)}`);
  };
  const arches = strings(top.architectures, "architectures", fail);
  const archMap = list(top.archMap, "archMap", fail);
  if (arches.length > 0 && archMap.length > 0) fail("", "both architectures and archMap are given; use one");
  arches.forEach((a, i) => known(a, `architectures[${i}]`));
  archMap.forEach((entry, i) => {
    const where = `archMap[${i}]`;
    const m = object(entry, where, fail);
    if (typeof m.architecture !== "string") fail(`${where}.architecture`, `must be a string, not ${describe(m.architecture)}`);
    known(m.architecture as string, `${where}.architecture`);
    strings(m.subArchitectures, `${where}.subArchitectures`, fail).forEach((a, j) => known(a, `${where}.subArchitectures[${j}]`));
  });
}

/** An errno number, or undefined when absent. */
function errno(v: unknown, where: string, fail: Fail): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_ERRNO) fail(where, `must be an errno number from 0 to ${MAX_ERRNO}, not ${describe(v)}`);
  return v as number;
}

/** SCMP_ACT_* into a return value; ERRNO and TRACE carry errnoRet (EPERM when absent, as runc). */
function action(v: unknown, errnoRet: number | undefined, where: string, fail: Fail): number {
  required(v, where, fail);
  if (typeof v !== "string") return fail(where, `must be an action name (SCMP_ACT_...), not ${describe(v)}`);
  switch (v) {
    case "SCMP_ACT_ALLOW": return Ret.allow;
    case "SCMP_ACT_ERRNO": return Ret.errno(errnoRet ?? EPERM);
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD": return Ret.killThread;
    case "SCMP_ACT_KILL_PROCESS": return Ret.killProcess;
    case "SCMP_ACT_TRAP": return Ret.trap;
    case "SCMP_ACT_LOG": return Ret.log;
    case "SCMP_ACT_TRACE": return Ret.trace(errnoRet ?? EPERM);
    case "SCMP_ACT_NOTIFY": return fail(where, "SCMP_ACT_NOTIFY is not supported (cbox has no seccomp agent)");
    default: return fail(where, `unknown action ${JSON.stringify(v)}`);
  }
}

function syscallRule(s: Obj, where: string, fail: Fail): Rule {
  const names = strings(s.names, `${where}.names`, fail);
  if (s.name !== undefined && s.name !== "") {
    if (names.length > 0) fail(where, "both name and names are given; use names");
    if (typeof s.name !== "string") fail(`${where}.name`, `must be a string, not ${describe(s.name)}`);
    names.push(s.name as string);
  }
  if (names.length === 0) fail(where, "has no names");
  const rule: Rule = {
    names,
    action: action(s.action, errno(s.errnoRet, `${where}.errnoRet`, fail), `${where}.action`, fail),
    args: list(s.args, `${where}.args`, fail).map((a, i) => argCheck(object(a, `${where}.args[${i}]`, fail), `${where}.args[${i}]`, fail)),
  };
  const includes = ruleFilter(s.includes, `${where}.includes`, fail);
  const excludes = ruleFilter(s.excludes, `${where}.excludes`, fail);
  return { ...rule, ...(includes ? { includes } : {}), ...(excludes ? { excludes } : {}) };
}

function argCheck(a: Obj, where: string, fail: Fail): ArgCheck {
  for (const key of ["index", "value", "op"]) required(a[key], `${where}.${key}`, fail);
  const index = a.index;
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index > 5) fail(`${where}.index`, `must be an argument number from 0 to 5, not ${describe(index)}`);
  const op = typeof a.op === "string" ? OPS[a.op] : undefined;
  if (!op) {
    const given = typeof a.op === "string" ? JSON.stringify(a.op) : describe(a.op);
    fail(`${where}.op`, `unknown comparison ${given} (SCMP_CMP_EQ, NE, LT, LE, GT, GE or MASKED_EQ)`);
  }
  return { index: index as number, op: op as CompareOp, value: u64(a.value, `${where}.value`, fail), valueTwo: u64(a.valueTwo ?? 0n, `${where}.valueTwo`, fail) };
}

function u64(v: unknown, where: string, fail: Fail): bigint {
  if (typeof v !== "bigint" || v < 0n || v > U64_MAX) fail(where, `must be an unsigned 64-bit integer, not ${describe(v)}`);
  return v as bigint;
}

function ruleFilter(v: unknown, where: string, fail: Fail): RuleFilter | undefined {
  if (v === undefined || v === null) return undefined;
  const f = object(v, where, fail);
  const out: RuleFilter = {};
  const caps = strings(f.caps, `${where}.caps`, fail);
  const arches = strings(f.arches, `${where}.arches`, fail);
  if (caps.length > 0) out.caps = caps;
  if (arches.length > 0) out.arches = arches;
  if (f.minKernel !== undefined && f.minKernel !== null && f.minKernel !== "") out.minKernel = minKernel(f.minKernel, `${where}.minKernel`, fail);
  return out;
}

/** "<kernel>.<major>" exactly, as docker takes it: "4.8", not "4.8.1". */
function minKernel(v: unknown, where: string, fail: Fail): string {
  const m = typeof v === "string" ? /^(\d{1,3})\.(\d{1,3})$/.exec(v) : null;
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255 || (Number(m[1]) === 0 && Number(m[2]) === 0)) {
    fail(where, `must be a kernel version "<kernel>.<major>" such as "4.8", not ${describe(v)}`);
  }
  return v as string;
}
