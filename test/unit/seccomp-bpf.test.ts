import { describe, expect, test } from "bun:test";
import { type Line, MAX_INSTRUCTIONS, Op, assemble, ja, jeq, jgt, label, ld, packFilter, ret } from "../../src/linux/seccomp/bpf.ts";
import { runFilter, unpack } from "./seccomp-interpreter.ts";

describe("assemble", () => {
  test("turns labels into offsets counted from the next instruction", () => {
    const insns = assemble([ld(0), jeq(7, "yes", "no"), label("no"), ret(1), label("yes"), ret(2)]);
    expect(insns).toEqual([
      { code: Op.ldAbs, jt: 0, jf: 0, k: 0 },
      { code: Op.jeqK, jt: 1, jf: 0, k: 7 },
      { code: Op.retK, jt: 0, jf: 0, k: 1 },
      { code: Op.retK, jt: 0, jf: 0, k: 2 },
    ]);
  });

  test("an absent target goes on with the next instruction; ja puts its offset in k", () => {
    const insns = assemble([jgt(3, undefined, "end"), ja("end"), ret(0), label("end"), ret(1)]);
    expect(insns[0]).toEqual({ code: Op.jgtK, jt: 0, jf: 2, k: 3 });
    expect(insns[1]).toEqual({ code: Op.ja, jt: 0, jf: 0, k: 1 });
  });

  test("keeps k unsigned", () => {
    expect(assemble([ret(0x80000000)])[0].k).toBe(0x80000000);
    expect(assemble([ret(-1)])[0].k).toBe(0xffffffff);
  });

  test("a missing label is an error", () => {
    expect(() => assemble([jeq(1, "nowhere"), ret(0)])).toThrow("BPF: instruction 0 jumps to nowhere, which is not defined");
  });

  test("a label defined twice is an error", () => {
    expect(() => assemble([label("a"), ret(0), label("a"), ret(1)])).toThrow("BPF: label a is defined twice");
  });

  test("a backward jump is an error", () => {
    expect(() => assemble([label("top"), ld(0), jeq(1, "top"), ret(0)])).toThrow("BPF: instruction 1 jumps back to top; cBPF jumps only forward");
  });

  test("a conditional jump reaches 255 instructions, not 256", () => {
    const program = (gap: number): Line[] => [ld(0), jeq(1, "far"), ...Array.from({ length: gap }, () => ret(0)), label("far"), ret(1)];
    expect(assemble(program(255))[1].jt).toBe(255);
    expect(() => assemble(program(256))).toThrow(
      "BPF: instruction 1 jumps 256 instructions to far; a conditional jump reaches at most 255",
    );
  });

  test("a program holds at most 4096 instructions", () => {
    const program = (n: number): Line[] => Array.from({ length: n }, () => ret(0));
    expect(assemble(program(MAX_INSTRUCTIONS))).toHaveLength(4096);
    expect(() => assemble(program(MAX_INSTRUCTIONS + 1))).toThrow("BPF: the program has 4097 instructions; the kernel takes at most 4096");
  });
});

describe("packFilter", () => {
  test("lays out struct sock_filter byte by byte, little-endian", () => {
    const packed = packFilter([{ code: 0x15, jt: 1, jf: 2, k: 0xc000003e }]);
    const bytes = new Uint8Array(BigInt64Array.from(packed).buffer);
    // u16 code, u8 jt, u8 jf, u32 k
    expect([...bytes]).toEqual([0x15, 0x00, 0x01, 0x02, 0x3e, 0x00, 0x00, 0xc0]);
  });

  test("is signed when k has its top bit set, and unpacks to the same fields", () => {
    const insns = [
      { code: 0x06, jt: 0, jf: 0, k: 0x80000000 },
      { code: 0x35, jt: 255, jf: 254, k: 0x7fff0000 },
    ];
    const packed = packFilter(insns);
    expect(packed[0]).toBe(BigInt.asIntN(64, 0x8000000000000006n));
    expect(packed[0] < 0n).toBe(true);
    expect(packed[1]).toBe(0x7fff0000feff0035n);
    expect(unpack(packed)).toEqual(insns);
  });

  test("runs in the test interpreter as written", () => {
    const packed = packFilter(assemble([ld(4), jeq(0xc000003e, "x86"), ret(1), label("x86"), ret(2)]));
    expect(runFilter(packed, { nr: 0, arch: 0xc000003e })).toBe(2);
    expect(runFilter(packed, { nr: 0, arch: 0x40000003 })).toBe(1);
  });
});
