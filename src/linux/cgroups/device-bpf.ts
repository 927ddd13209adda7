// cgroup v2 has no devices.allow: the kernel asks an eBPF program attached to the cgroup
// (BPF_PROG_TYPE_CGROUP_DEVICE) at every mknod and open of a device node. This builds that program
// from device rules (an allow-list: it returns 1 when a rule matches, else 0, and the kernel then
// fails the call with EPERM) and attaches it.
import { closeSync, constants, openSync } from "node:fs";
import { describeErrno, errnoName, systemErrorText } from "../../errors.ts";
import { deviceShim } from "../../sys/shim.ts";
import type { DeviceRule } from "./devices.ts";

// The program's input, struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
// access_type is (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*.
const CTX_ACCESS_TYPE = 0;
const CTX_MAJOR = 4;
const CTX_MINOR = 8;
const DEV_TYPE = { b: 1, c: 2 } as const;
const ACCESS = { m: 1, r: 2, w: 4 } as const;
const ALL_ACCESS = ACCESS.m | ACCESS.r | ACCESS.w;

// The eBPF opcodes used (include/uapi/linux/bpf.h: class | operation | source).
const OP = {
  ldxw: 0x61, // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
  mov: 0xbc, // BPF_ALU | BPF_MOV | BPF_X: dst = src (32 bits, the upper half zeroed)
  movImm: 0xb4, // BPF_ALU | BPF_MOV | BPF_K: dst = imm
  andImm: 0x54, // BPF_ALU | BPF_AND | BPF_K: dst &= imm
  rshImm: 0x74, // BPF_ALU | BPF_RSH | BPF_K: dst >>= imm
  jneImm: 0x55, // BPF_JMP | BPF_JNE | BPF_K: if dst != imm, skip off instructions
  exit: 0x95, // BPF_JMP | BPF_EXIT: return r0
} as const;

// Registers: r0 is the result, r1 the context on entry; the rest hold the context's fields.
const R0 = 0;
const CTX = 1;
const TYPE = 2;
const ACC = 3;
const MAJOR = 4;
const MINOR = 5;
const TMP = 6;

/** One instruction; a jump's off is a label until assemble() resolves it. */
interface Insn {
  op: number;
  dst: number;
  src: number;
  off: number | string;
  imm: number;
}
type Line = Insn | { label: string };

const insn = (op: number, dst: number, src: number, off: number | string, imm: number): Insn => ({ op, dst, src, off, imm });
const ldxw = (dst: number, src: number, off: number) => insn(OP.ldxw, dst, src, off, 0);
const mov = (dst: number, src: number) => insn(OP.mov, dst, src, 0, 0);
const movImm = (dst: number, imm: number) => insn(OP.movImm, dst, 0, 0, imm);
const andImm = (dst: number, imm: number) => insn(OP.andImm, dst, 0, 0, imm);
const rshImm = (dst: number, imm: number) => insn(OP.rshImm, dst, 0, 0, imm);
const jneImm = (dst: number, imm: number, label: string) => insn(OP.jneImm, dst, 0, label, imm);
const exit = () => insn(OP.exit, 0, 0, 0, 0);

/** Labels into offsets, then struct bpf_insn { u8 code; u8 dst:4, src:4; s16 off; s32 imm; }, little-endian. */
function assemble(lines: Line[]): Uint8Array {
  const at = new Map<string, number>();
  const insns: Insn[] = [];
  for (const line of lines) {
    if ("label" in line) at.set(line.label, insns.length);
    else insns.push(line);
  }
  const out = new Uint8Array(insns.length * 8);
  const view = new DataView(out.buffer);
  insns.forEach((ins, i) => {
    let off = ins.off;
    if (typeof off === "string") {
      const target = at.get(off);
      if (target === undefined) throw new Error(`eBPF: no label ${off}`);
      off = target - (i + 1); // a jump counts from the next instruction
    }
    view.setUint8(i * 8, ins.op);
    view.setUint8(i * 8 + 1, ins.dst | (ins.src << 4));
    view.setInt16(i * 8 + 2, off, true);
    view.setInt32(i * 8 + 4, ins.imm, true);
  });
  return out;
}

/** The rule's access as BPF_DEVCG_ACC_* bits. */
function accessBits(access: string): number {
  let bits = 0;
  for (const a of access) {
    if (!(a in ACCESS)) throw new Error(`device rule: access ${JSON.stringify(access)} is not made of r, w and m`);
    bits |= ACCESS[a as keyof typeof ACCESS];
  }
  return bits;
}

function checkNumber(what: string, n: number): void {
  // A jump compares with a sign-extended 32-bit immediate: numbers above 2^31 would not match.
  if (n !== -1 && !(Number.isInteger(n) && n >= 0 && n < 2 ** 31)) throw new Error(`device rule: bad ${what} ${n}`);
}

/** A rule's test: any field that differs jumps to next; when none does, the program allows. */
function ruleLines(rule: DeviceRule, next: string): Line[] {
  checkNumber("major", rule.major);
  checkNumber("minor", rule.minor);
  const granted = accessBits(rule.access);
  const out: Line[] = [];
  if (rule.type !== "a") out.push(jneImm(TYPE, DEV_TYPE[rule.type], next));
  // Every access asked for must be granted: (asked & ~granted) == 0.
  if (granted !== ALL_ACCESS) out.push(mov(TMP, ACC), andImm(TMP, ~granted & 0xffff), jneImm(TMP, 0, next));
  if (rule.major !== -1) out.push(jneImm(MAJOR, rule.major, next));
  if (rule.minor !== -1) out.push(jneImm(MINOR, rule.minor, next));
  out.push(movImm(R0, 1), exit());
  return out;
}

/** The device program for an allow-list: 1 (allow) when some rule matches the access, else 0. */
export function deviceProgram(rules: DeviceRule[]): Uint8Array {
  const lines: Line[] = [
    ldxw(TYPE, CTX, CTX_ACCESS_TYPE),
    andImm(TYPE, 0xffff),
    ldxw(ACC, CTX, CTX_ACCESS_TYPE),
    rshImm(ACC, 16),
    ldxw(MAJOR, CTX, CTX_MAJOR),
    ldxw(MINOR, CTX, CTX_MINOR),
  ];
  rules.forEach((rule, i) => lines.push(...ruleLines(rule, `next${i}`), { label: `next${i}` }));
  lines.push(movImm(R0, 0), exit());
  return assemble(lines);
}

const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
/** Programs attached by others (systemd, a parent cgroup's) stay; all must allow an access. */
const BPF_F_ALLOW_MULTI = 2;
/** Device programs call no GPL-only helper (none at all), so the kernel takes any license. */
const LICENSE = Buffer.from("Apache-2.0\0");
const LOG_SIZE = 64 << 10;
const EACCES = 13;
const EINVAL = 22;

/** A bpf() failure: the errno, and the step in the message. */
export class DeviceProgramError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

const errnoText = (errno: number) => `${errnoName(errno)} (${describeErrno(errno)})`;

/**
 * Loads the device program for rules and attaches it to the cgroup at cgroupDir (root only). The
 * attachment keeps the program alive until the cgroup is removed.
 */
export function attachDeviceProgram(cgroupDir: string, rules: DeviceRule[]): void {
  attachDeviceBytecode(cgroupDir, deviceProgram(rules));
}

/** attachDeviceProgram's work for bytecode as deviceProgram makes it (tests pass broken programs). */
export function attachDeviceBytecode(cgroupDir: string, insns: Uint8Array): void {
  let dir: number;
  try {
    dir = openSync(cgroupDir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    const errno = -((err as NodeJS.ErrnoException).errno ?? 0);
    throw new DeviceProgramError(`cannot open ${cgroupDir} to attach the device eBPF program: ${errno ? errnoText(errno) : systemErrorText(err)}`, errno);
  }
  try {
    const prog = loadProgram(insns);
    try {
      const r = deviceShim().cbox_bpf_prog_attach(dir, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
      if (r < 0) throw new DeviceProgramError(`cannot attach the device eBPF program to ${cgroupDir}: ${errnoText(-r)}`, -r);
    } finally {
      closeSync(prog);
    }
  } finally {
    closeSync(dir);
  }
}

/** The program's fd. Without a log first (a log too small for the verifier fails the load); on a rejection, again with one to say why. */
function loadProgram(insns: Uint8Array): number {
  const sys = deviceShim();
  const count = insns.length / 8;
  const fd = sys.cbox_bpf_prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, insns, count, LICENSE, null, 0);
  if (fd >= 0) return fd;
  let why = "";
  if (-fd === EINVAL || -fd === EACCES) {
    const log = new Uint8Array(LOG_SIZE);
    const again = sys.cbox_bpf_prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, insns, count, LICENSE, log, LOG_SIZE);
    if (again >= 0) return again;
    why = verifierSummary(log);
  }
  throw new DeviceProgramError(`cannot load the device eBPF program: ${errnoText(-fd)}${why ? `; verifier: ${why}` : ""}`, -fd);
}

/** The verifier log's last lines (where it says what it refused) without its statistics, on one line. */
function verifierSummary(log: Uint8Array): string {
  const end = log.indexOf(0);
  const lines = new TextDecoder()
    .decode(log.subarray(0, end < 0 ? log.length : end))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("processed "));
  const text = lines.slice(-2).join(" | ");
  return text.length > 300 ? `...${text.slice(-300)}` : text;
}
