// Classic BPF (cBPF), the language of seccomp filters: struct sock_filter { u16 code; u8 jt; u8 jf;
// u32 k; }. Programs are written with label names as jump targets; assemble() turns them into the
// kernel's relative offsets.

/** One instruction as the kernel takes it; jt and jf count instructions after the next one. */
export interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/**
 * An instruction before assembly. A conditional jump's jt and jf are labels, or absent to go on
 * with the next instruction; an unconditional jump (ja) names its label in jt.
 */
export interface SymbolicInstruction {
  code: number;
  k: number;
  jt?: string;
  jf?: string;
}

export type Line = SymbolicInstruction | { label: string };

/** The opcodes a seccomp filter needs (include/uapi/linux/bpf_common.h: class | size/op | source). */
export const Op = {
  ldAbs: 0x20, // BPF_LD | BPF_W | BPF_ABS: A = *(u32 *)(seccomp_data + k)
  andK: 0x54, // BPF_ALU | BPF_AND | BPF_K: A &= k
  ja: 0x05, // BPF_JMP | BPF_JA: skip k instructions
  jeqK: 0x15, // BPF_JMP | BPF_JEQ | BPF_K: A == k
  jgtK: 0x25, // BPF_JMP | BPF_JGT | BPF_K: A > k, unsigned
  jgeK: 0x35, // BPF_JMP | BPF_JGE | BPF_K: A >= k, unsigned
  jsetK: 0x45, // BPF_JMP | BPF_JSET | BPF_K: (A & k) != 0
  retK: 0x06, // BPF_RET | BPF_K: return k
} as const;

/** BPF_MAXINSNS: the kernel refuses longer programs. */
export const MAX_INSTRUCTIONS = 4096;
/** A conditional jump's offsets are 8 bits. */
const MAX_JUMP = 255;

const u32 = (k: number) => k >>> 0;
export const ld = (offset: number): SymbolicInstruction => ({ code: Op.ldAbs, k: offset });
export const and = (mask: number): SymbolicInstruction => ({ code: Op.andK, k: u32(mask) });
export const ret = (value: number): SymbolicInstruction => ({ code: Op.retK, k: u32(value) });
export const ja = (label: string): SymbolicInstruction => ({ code: Op.ja, k: 0, jt: label });
export const jeq = (k: number, jt?: string, jf?: string): SymbolicInstruction => ({ code: Op.jeqK, k: u32(k), jt, jf });
export const jgt = (k: number, jt?: string, jf?: string): SymbolicInstruction => ({ code: Op.jgtK, k: u32(k), jt, jf });
export const jge = (k: number, jt?: string, jf?: string): SymbolicInstruction => ({ code: Op.jgeK, k: u32(k), jt, jf });
export const jset = (k: number, jt?: string, jf?: string): SymbolicInstruction => ({ code: Op.jsetK, k: u32(k), jt, jf });
export const label = (name: string): Line => ({ label: name });

/** Resolves labels to offsets; throws when a label is missing or defined twice, a jump is out of reach, or the program is too long. */
export function assemble(lines: Line[]): Instruction[] {
  const at = new Map<string, number>();
  const symbolic: SymbolicInstruction[] = [];
  for (const line of lines) {
    if (!("label" in line)) symbolic.push(line);
    else if (at.has(line.label)) throw new Error(`BPF: label ${line.label} is defined twice`);
    else at.set(line.label, symbolic.length);
  }
  if (symbolic.length > MAX_INSTRUCTIONS) {
    throw new Error(`BPF: the program has ${symbolic.length} instructions; the kernel takes at most ${MAX_INSTRUCTIONS}`);
  }
  return symbolic.map((insn, i) => {
    // cBPF only jumps forward, counting from the instruction after the jump.
    const offset = (target: string | undefined, limit: number): number => {
      if (target === undefined) return 0;
      const to = at.get(target);
      if (to === undefined) throw new Error(`BPF: instruction ${i} jumps to ${target}, which is not defined`);
      const off = to - (i + 1);
      if (off < 0) throw new Error(`BPF: instruction ${i} jumps back to ${target}; cBPF jumps only forward`);
      if (off > limit) throw new Error(`BPF: instruction ${i} jumps ${off} instructions to ${target}; a conditional jump reaches at most ${MAX_JUMP}`);
      return off;
    };
    if (insn.code === Op.ja) return { code: insn.code, jt: 0, jf: 0, k: offset(insn.jt, MAX_INSTRUCTIONS) };
    return { code: insn.code, jt: offset(insn.jt, MAX_JUMP), jf: offset(insn.jf, MAX_JUMP), k: insn.k };
  });
}

/**
 * The kernel's struct sock_filter array, little-endian (as both CPUs cbox runs on are): each
 * instruction's 8 bytes read as one signed 64-bit integer are code | jt << 16 | jf << 24 | k << 32.
 * The plan hands these bytes to the shim as they are.
 */
export function packFilter(insns: Instruction[]): BigInt64Array {
  const view = new DataView(new ArrayBuffer(insns.length * 8));
  insns.forEach((insn, i) => {
    view.setUint16(8 * i, insn.code, true);
    view.setUint8(8 * i + 2, insn.jt);
    view.setUint8(8 * i + 3, insn.jf);
    view.setUint32(8 * i + 4, insn.k >>> 0, true);
  });
  return new BigInt64Array(view.buffer);
}
