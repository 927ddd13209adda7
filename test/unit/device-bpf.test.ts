// The cgroup v2 device program, run through a small eBPF interpreter (only the opcodes
// deviceProgram emits, with the checks the kernel's verifier would make on them), and the v2
// driver's use of it against a fake cgroupfs.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deviceProgram } from "../../src/linux/cgroups/device-bpf.ts";
import { ALLOWED_DEVICES, type DeviceRule } from "../../src/linux/cgroups/devices.ts";
import { kernelDevices, V2Cgroup, type DeviceControl } from "../../src/linux/cgroups/v2.ts";
import { FakeCgroupfs } from "./fake-cgroupfs.ts";

const BLOCK = 1;
const CHAR = 2;
const ACC: Record<string, number> = { m: 1, r: 2, w: 4 };
const u64 = (n: bigint) => BigInt.asUintN(64, n);

/** Runs the program on struct bpf_cgroup_dev_ctx { access_type, major, minor }; returns r0. */
function run(prog: Uint8Array, ctx: [number, number, number]): number {
  expect(prog.length % 8).toBe(0);
  const view = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const count = prog.length / 8;
  const regs: (bigint | undefined)[] = new Array(11).fill(undefined);
  const CTX = -1n; // r1 holds the context pointer, which only ldxw may use
  regs[1] = CTX;
  const get = (r: number) => {
    const v = regs[r];
    if (v === undefined) throw new Error(`read of uninitialized r${r}`);
    if (v === CTX) throw new Error(`r${r} is the context pointer`);
    return v;
  };
  for (let pc = 0, steps = 0; ; pc++, steps++) {
    if (pc < 0 || pc >= count) throw new Error(`pc ${pc} out of the program`);
    if (steps > count) throw new Error("a backward jump");
    const at = pc * 8;
    const op = view.getUint8(at);
    const dst = view.getUint8(at + 1) & 0xf;
    const src = view.getUint8(at + 1) >> 4;
    const off = view.getInt16(at + 2, true);
    const imm = view.getInt32(at + 4, true);
    if (dst > 10 || dst === 10) throw new Error(`bad register r${dst}`);
    const alu32 = (v: bigint) => BigInt.asUintN(32, v);
    switch (op) {
      case 0x61: // ldxw dst, [src + off]
        if (regs[src] !== CTX) throw new Error("ldxw from something other than the context");
        if (![0, 4, 8].includes(off)) throw new Error(`ldxw at context offset ${off}`);
        regs[dst] = BigInt(ctx[off / 4]! >>> 0);
        break;
      case 0xbc: // mov32 dst, src
        regs[dst] = alu32(get(src));
        break;
      case 0xb4: // mov32 dst, imm
        regs[dst] = alu32(BigInt(imm));
        break;
      case 0x54: // and32 dst, imm
        regs[dst] = alu32(get(dst) & BigInt.asUintN(32, BigInt(imm)));
        break;
      case 0x74: // rsh32 dst, imm
        if (imm < 0 || imm > 31) throw new Error(`shift by ${imm}`);
        regs[dst] = alu32(get(dst)) >> BigInt(imm);
        break;
      case 0x55: // jne dst, imm, +off (64-bit compare with the sign-extended immediate)
        if (off < 0) throw new Error("a backward jump");
        if (get(dst) !== u64(BigInt(imm))) pc += off;
        break;
      case 0x95: {
        const r0 = get(0);
        if (r0 !== 0n && r0 !== 1n) throw new Error(`returns ${r0}, not 0 or 1`);
        return Number(r0);
      }
      default:
        throw new Error(`opcode 0x${op.toString(16)} at ${pc}`);
    }
  }
}

/** Whether the program allows access ("r", "rw", "m"...) to a type major:minor device. */
function allows(prog: Uint8Array, type: "c" | "b", major: number, minor: number, access: string): boolean {
  const bits = [...access].reduce((n, a) => n | ACC[a]!, 0);
  return run(prog, [(bits << 16) | (type === "b" ? BLOCK : CHAR), major, minor]) === 1;
}

describe("the device program for ALLOWED_DEVICES (docker's rule)", () => {
  const prog = deviceProgram(ALLOWED_DEVICES);

  test("is 64 instructions, ending with return 0", () => {
    expect(prog.length / 8).toBe(64);
    expect([...prog.subarray(prog.length - 16)]).toEqual([0xb4, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  });

  const table: [string, "c" | "b", number, number, string, boolean][] = [
    ["/dev/null read+write", "c", 1, 3, "rw", true],
    ["/dev/null mknod", "c", 1, 3, "m", true],
    ["/dev/null everything", "c", 1, 3, "rwm", true],
    ["/dev/zero read", "c", 1, 5, "r", true],
    ["/dev/full write", "c", 1, 7, "w", true],
    ["/dev/random read", "c", 1, 8, "r", true],
    ["/dev/urandom read", "c", 1, 9, "r", true],
    ["/dev/tty read+write", "c", 5, 0, "rw", true],
    ["/dev/console read+write", "c", 5, 1, "rw", true],
    ["/dev/ptmx read+write", "c", 5, 2, "rw", true],
    ["/dev/pts/5 read+write", "c", 136, 5, "rw", true],
    ["/dev/pts/0 write", "c", 136, 0, "w", true],
    ["c 8:0 (sda as a char node) read", "c", 8, 0, "r", false],
    ["b 8:0 (sda) mknod", "b", 8, 0, "m", true],
    ["b 8:0 (sda) read", "b", 8, 0, "r", false],
    ["b 8:0 (sda) write", "b", 8, 0, "w", false],
    ["b 8:0 (sda) read and mknod", "b", 8, 0, "rm", false],
    ["b 7:0 (loop0) read", "b", 7, 0, "r", false],
    ["b 1:3 (a block node with null's numbers) read", "b", 1, 3, "r", false],
    ["b 136:5 read", "b", 136, 5, "r", false],
    ["c 10:200 (tun) read+write", "c", 10, 200, "rw", false],
    ["c 10:200 (tun) mknod", "c", 10, 200, "m", true],
    ["c 1:1 (mem) read", "c", 1, 1, "r", false],
    ["c 1:11 (kmsg) read", "c", 1, 11, "r", false],
    ["c 4:0 (tty0) write", "c", 4, 0, "w", false],
    ["c 5:3 read", "c", 5, 3, "r", false],
    ["c 3:1 (minor 1 of another major) read", "c", 3, 1, "r", false],
  ];
  for (const [name, type, major, minor, access, expected] of table) {
    test(`${name}: ${expected ? "allowed" : "denied"}`, () => {
      expect(allows(prog, type, major, minor, access)).toBe(expected);
    });
  }
});

describe("device programs for other rules", () => {
  test("no rules: everything is denied", () => {
    const prog = deviceProgram([]);
    expect(prog.length / 8).toBe(8); // the context loads, then return 0
    expect(allows(prog, "c", 1, 3, "r")).toBe(false);
    expect(allows(prog, "b", 8, 0, "m")).toBe(false);
  });

  test("a read-only rule grants reads only; type a matches both types; * matches any number", () => {
    const rules: DeviceRule[] = [
      { type: "c", major: 4, minor: 2, access: "r" },
      { type: "a", major: 9, minor: -1, access: "w" },
    ];
    const prog = deviceProgram(rules);
    expect(allows(prog, "c", 4, 2, "r")).toBe(true);
    expect(allows(prog, "c", 4, 2, "rw")).toBe(false);
    expect(allows(prog, "c", 4, 2, "m")).toBe(false);
    expect(allows(prog, "b", 4, 2, "r")).toBe(false);
    expect(allows(prog, "b", 9, 77, "w")).toBe(true);
    expect(allows(prog, "c", 9, 0, "w")).toBe(true);
    expect(allows(prog, "c", 9, 0, "r")).toBe(false);
  });

  test("numbers up to 2^31 - 1 compare right (the jumps' immediates are signed 32 bits)", () => {
    const prog = deviceProgram([{ type: "c", major: 4095, minor: 2 ** 31 - 1, access: "rwm" }]);
    expect(allows(prog, "c", 4095, 2 ** 31 - 1, "r")).toBe(true);
    expect(allows(prog, "c", 4095, 2 ** 31 - 2, "r")).toBe(false);
  });

  test("a malformed rule is refused, not compiled into something else", () => {
    expect(() => deviceProgram([{ type: "c", major: 1, minor: 3, access: "rx" }])).toThrow('device rule: access "rx" is not made of r, w and m');
    expect(() => deviceProgram([{ type: "c", major: 2 ** 31, minor: 0, access: "r" }])).toThrow(`device rule: bad major ${2 ** 31}`);
    expect(() => deviceProgram([{ type: "c", major: 1, minor: -2, access: "r" }])).toThrow("device rule: bad minor -2");
  });
});

describe("the v2 driver attaches the program", () => {
  const ID = "c".repeat(64);
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "cbox-devbpf-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function recorder(asRoot: boolean, fail?: Error): DeviceControl & { calls: { dir: string; rules: DeviceRule[]; made: boolean }[] } {
    const calls: { dir: string; rules: DeviceRule[]; made: boolean }[] = [];
    return {
      rules: ALLOWED_DEVICES,
      asRoot,
      calls,
      attach(dir, rules) {
        calls.push({ dir, rules, made: existsSync(dir) });
        if (fail) throw fail;
      },
    };
  }

  test("as root: ALLOWED_DEVICES onto the container's cgroup, once it is made", () => {
    const fs = new FakeCgroupfs(root, 2, [["memory", "pids"]]);
    const devices = recorder(true);
    new V2Cgroup(root, ID, { pidsLimit: 5 }, ["memory", "pids"], fs, devices).create();
    expect(devices.calls).toEqual([{ dir: `${root}/cbox/${ID}`, rules: ALLOWED_DEVICES, made: true }]);
  });

  test("rootless: no program (an ordinary user cannot load one; the kernel's nodev covers it)", () => {
    const fs = new FakeCgroupfs(root, 2, [["memory", "pids"]]);
    const devices = recorder(false);
    new V2Cgroup(root, ID, {}, ["memory", "pids"], fs, devices).create();
    expect(devices.calls).toEqual([]);
    expect(existsSync(join(root, "cbox", ID))).toBe(true);
  });

  test("no rules (--privileged): no program, also for root", () => {
    const fs = new FakeCgroupfs(root, 2, [["memory"]]);
    const devices = { ...recorder(true), rules: undefined };
    new V2Cgroup(root, ID, {}, ["memory"], fs, devices).create();
    expect(devices.calls).toEqual([]);
  });

  test("kernelDevices: the rules given, root as the process is", () => {
    const fs = new FakeCgroupfs(root, 2, [["memory"]]);
    expect(kernelDevices(undefined, fs).rules).toBeUndefined();
    expect(kernelDevices(ALLOWED_DEVICES, fs)).toMatchObject({ rules: ALLOWED_DEVICES, asRoot: process.getuid!() === 0 });
  });

  test("a failed attach fails create, and nothing is left", () => {
    const fs = new FakeCgroupfs(root, 2, [["memory", "pids"]]);
    const err = new Error("cannot attach the device eBPF program to x: EPERM (operation not permitted)");
    const cg = new V2Cgroup(root, ID, {}, ["memory", "pids"], fs, recorder(true, err));
    expect(() => cg.create()).toThrow(err);
    expect(existsSync(join(root, "cbox"))).toBe(false);
  });

  test("a fake tree with the default device control never reaches the kernel", () => {
    const fs = new FakeCgroupfs(root, 2, [["memory"]]);
    new V2Cgroup(root, ID, {}, ["memory"], fs).create();
    expect(existsSync(join(root, "cbox", ID))).toBe(true);
  });
});
