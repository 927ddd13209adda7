import { describe, expect, test } from "bun:test";
import { encodePlan, OpCode } from "../../src/sys/ops.ts";

function header(buf: Uint8Array, off = 0) {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    code: v.getUint32(off, true),
    nints: v.getUint32(off + 4, true),
    nstrs: v.getUint32(off + 8, true),
    size: v.getUint32(off + 12, true),
    int: (i: number) => v.getBigInt64(off + 16 + 8 * i, true),
  };
}

describe("encodePlan", () => {
  test("a record holds code, counts, size, i64 ints at 16 and NUL-ended strings", () => {
    const buf = encodePlan([{ op: "mkdir", ints: [0o755, 1], strs: ["/ab"] }]);
    const h = header(buf);
    expect(h.code).toBe(OpCode.mkdir);
    expect(h.nints).toBe(2);
    expect(h.nstrs).toBe(1);
    // 16 header + 16 ints + 4 ("/ab\0") = 36, padded to 40
    expect(h.size).toBe(40);
    expect(buf.length).toBe(40);
    expect(h.int(0)).toBe(0o755n);
    expect(h.int(1)).toBe(1n);
    expect(Array.from(buf.subarray(32, 36))).toEqual([0x2f, 0x61, 0x62, 0]);
    expect(Array.from(buf.subarray(36, 40))).toEqual([0, 0, 0, 0]);
  });

  test("several strings follow each other, each NUL-terminated", () => {
    const buf = encodePlan([{ op: "symlink", strs: ["a", "", "bc"] }]);
    const h = header(buf);
    expect(h.nints).toBe(0);
    expect(h.nstrs).toBe(3);
    expect(h.size).toBe(24); // 16 + 2 + 1 + 3 = 22 -> 24
    expect(Array.from(buf.subarray(16, 22))).toEqual([0x61, 0, 0, 0x62, 0x63, 0]);
  });

  test("an op without ints or strings is just the 16-byte header", () => {
    const buf = encodePlan([{ op: "loopbackUp" }]);
    expect(buf.length).toBe(16);
    expect(header(buf)).toMatchObject({ code: OpCode.loopbackUp, nints: 0, nstrs: 0, size: 16 });
  });

  test("records are concatenated; each size leads to the next", () => {
    const buf = encodePlan([
      { op: "sethostname", strs: ["host"] },
      { op: "setuid", ints: [1000] },
      { op: "exec", ints: [1, 0], strs: ["/bin", "sh"] },
    ]);
    const a = header(buf, 0);
    expect(a.code).toBe(OpCode.sethostname);
    expect(a.size).toBe(24);
    const b = header(buf, a.size);
    expect(b.code).toBe(OpCode.setuid);
    expect(b.size).toBe(24);
    expect(b.int(0)).toBe(1000n);
    const c = header(buf, a.size + b.size);
    expect(c.code).toBe(OpCode.exec);
    expect(c.size).toBe(40); // 16 + 16 + "/bin\0" + "sh\0" = 40
    expect(buf.length).toBe(a.size + b.size + c.size);
  });

  test("every record size is a multiple of 8", () => {
    for (let n = 0; n < 12; n++) {
      const buf = encodePlan([{ op: "chdir", strs: ["x".repeat(n)] }]);
      expect(header(buf).size % 8).toBe(0);
      expect(header(buf).size).toBeGreaterThanOrEqual(16 + n + 1);
    }
  });

  test("strings are encoded as UTF-8", () => {
    const buf = encodePlan([{ op: "chdir", strs: ["é"] }]);
    expect(Array.from(buf.subarray(16, 19))).toEqual([0xc3, 0xa9, 0]);
  });

  test("negative ints are two's complement i64", () => {
    const buf = encodePlan([{ op: "openDup", ints: [-1, -100] }]);
    const h = header(buf);
    expect(h.int(0)).toBe(-1n);
    expect(h.int(1)).toBe(-100n);
    expect(Array.from(buf.subarray(16, 24))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  });

  test("numbers past 32 bits, bigints and strings past 1 byte per character keep their values", () => {
    const big = 2 ** 40 + 5;
    const buf = encodePlan([{ op: "capset", ints: [big, -(2 ** 33), 0x8000000000000006n], strs: ["日本", "x"] }]);
    const h = header(buf);
    expect([h.int(0), h.int(1), h.int(2)]).toEqual([BigInt(big), -(2n ** 33n), BigInt.asIntN(64, 0x8000000000000006n)]);
    expect(new TextDecoder().decode(buf.subarray(40, 40 + 6))).toBe("日本");
    expect(Array.from(buf.subarray(46, 49))).toEqual([0, 0x78, 0]);
    expect(h.size).toBe(56); // 16 + 24 + 7 + 2 = 49 -> 56
  });

  test("a BigInt64Array's bytes are copied as they are", () => {
    const ints = new BigInt64Array([1n, -2n, 0x7fff0000feff0035n]);
    const buf = encodePlan([{ op: "seccomp", ints }]);
    const h = header(buf);
    expect(h.nints).toBe(3);
    expect(h.size).toBe(40);
    expect([h.int(0), h.int(1), h.int(2)]).toEqual([1n, -2n, 0x7fff0000feff0035n]);
  });

  test("a number that is not a safe integer throws", () => {
    expect(() => encodePlan([{ op: "umask", ints: [1.5] }])).toThrow("umask: 1.5 is not an integer");
    expect(() => encodePlan([{ op: "umask", ints: [2 ** 60] }])).toThrow("not an integer");
  });

  test("a NUL inside a string throws", () => {
    expect(() => encodePlan([{ op: "chdir", strs: ["a\0b"] }])).toThrow("NUL");
  });
});
