// A profile into the cBPF program the kernel runs at every system call of the container. The
// program checks the call's ABI, then tries the rules in order: the first that matches decides,
// and a call no rule matches gets the profile's default action.
import { type Instruction, type Line, and, assemble, jeq, jge, jgt, label, ld, ret } from "./bpf.ts";
import { ARCHES, syscallNumber } from "./arch.ts";
import { type ArgCheck, ENOSYS, type FilterTarget, type Profile, Ret, ruleApplies } from "./profile.ts";

export { hostSeccompArch } from "./arch.ts";

// struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }, little-endian:
// an argument's low 32 bits come first.
const NR_AT = 0;
const ARCH_AT = 4;
const argLowAt = (index: number) => 16 + 8 * index;
/** A conditional jump reaches 255 instructions: a block of calls sharing one return holds at most 256. */
const BLOCK_SIZE = 256;

/** One call number with its checks, after the rules' conditions and names are resolved. */
interface Entry {
  nr: number;
  action: number;
  args: ArgCheck[];
}

/**
 * The filter for profile on target.arch with target's capabilities and kernel. Calls from another
 * ABI (i386 through int 0x80 or x32 on x86_64, arm32 compat on arm64) fail with ENOSYS, whatever
 * the profile says: the tables cover only the native ABI, and containers run native binaries.
 */
export function compileFilter(profile: Profile, target: FilterTarget): Instruction[] {
  const info = ARCHES[target.arch];
  const lines: Line[] = [ld(ARCH_AT), jeq(info.auditArch, "native-arch"), ret(Ret.errno(ENOSYS)), label("native-arch"), ld(NR_AT)];
  if (info.x32Bit) lines.push(jge(info.x32Bit, undefined, "native-nr"), ret(Ret.errno(ENOSYS)), label("native-nr"));
  const labels = labelMaker();
  const entries = resolveEntries(profile, target);
  for (let i = 0; i < entries.length; ) {
    if (entries[i].args.length > 0) {
      lines.push(...checkedEntry(entries[i], labels));
      i++;
      continue;
    }
    // Calls without checks that share an action, one after another, share one return.
    let end = i + 1;
    while (end < entries.length && end - i < BLOCK_SIZE && entries[end].args.length === 0 && entries[end].action === entries[i].action) end++;
    lines.push(...block(entries.slice(i, end), labels));
    i = end;
  }
  lines.push(ret(profile.defaultAction));
  return assemble(lines);
}

function labelMaker(): (what: string) => string {
  let n = 0;
  return (what) => `${what}-${n++}`;
}

/** The rules that apply to target, one entry per call this arch has (others are skipped, as runc does). */
function resolveEntries(profile: Profile, target: FilterTarget): Entry[] {
  const entries: Entry[] = [];
  for (const rule of profile.rules) {
    if (!ruleApplies(rule, target)) continue;
    // runc's reading: when two checks look at the same argument, each is a rule of its own (ORed).
    const indexes = rule.args.map((a) => a.index);
    const sets = new Set(indexes).size < indexes.length ? rule.args.map((a) => [a]) : [rule.args];
    for (const name of rule.names) {
      const nr = syscallNumber(target.arch, name);
      if (nr === undefined) continue;
      for (const args of sets) entries.push({ nr, action: rule.action, args });
    }
  }
  return entries;
}

/** A holds nr before and after: a match returns action, anything else falls through. */
function block(entries: Entry[], labels: (what: string) => string): Line[] {
  const match = labels("match");
  const next = labels("next");
  const last = entries.length - 1;
  return [
    ...entries.map((e, i) => (i < last ? jeq(e.nr, match) : jeq(e.nr, undefined, next))),
    label(match),
    ret(entries[0].action),
    label(next),
  ];
}

/** A call with argument checks: they load the arguments, so a failed check reloads nr on its way out. */
function checkedEntry(entry: Entry, labels: (what: string) => string): Line[] {
  const fail = labels("fail");
  const skip = labels("skip");
  return [
    jeq(entry.nr, undefined, skip),
    ...entry.args.flatMap((check) => argCheck(check, fail, labels("pass"))),
    ret(entry.action),
    label(fail),
    ld(NR_AT),
    label(skip),
  ];
}

const halves = (v: bigint): [number, number] => [Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn)];

/** One 64-bit unsigned comparison as two 32-bit ones: the high halves decide unless they are equal. */
function argCheck(check: ArgCheck, fail: string, pass: string): Line[] {
  const low = argLowAt(check.index);
  const high = low + 4;
  const [hi, lo] = halves(check.value);
  switch (check.op) {
    case "EQ":
      return [ld(high), jeq(hi, undefined, fail), ld(low), jeq(lo, undefined, fail)];
    case "NE":
      return [ld(high), jeq(hi, undefined, pass), ld(low), jeq(lo, fail), label(pass)];
    case "GT":
      return [ld(high), jgt(hi, pass), jeq(hi, undefined, fail), ld(low), jgt(lo, undefined, fail), label(pass)];
    case "GE":
      return [ld(high), jgt(hi, pass), jeq(hi, undefined, fail), ld(low), jge(lo, undefined, fail), label(pass)];
    case "LT":
      return [ld(high), jgt(hi, fail), jeq(hi, undefined, pass), ld(low), jge(lo, fail), label(pass)];
    case "LE":
      return [ld(high), jgt(hi, fail), jeq(hi, undefined, pass), ld(low), jgt(lo, fail), label(pass)];
    case "MASKED_EQ": {
      const [wantHi, wantLo] = halves(check.valueTwo);
      const masked = (at: number, mask: number, want: number): Line[] => {
        if (mask === 0 && want === 0) return []; // nothing of this half is looked at
        return [ld(at), ...(mask === 0xffffffff ? [] : [and(mask)]), jeq(want, undefined, fail)];
      };
      return [...masked(high, hi, wantHi), ...masked(low, lo, wantLo)];
    }
  }
}
