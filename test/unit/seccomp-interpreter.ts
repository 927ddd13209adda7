// A classic BPF interpreter for seccomp filters, for tests: it runs the packed program (the 64-bit
// values handed to the kernel) on a struct seccomp_data, as the kernel would, and returns the
// filter's SECCOMP_RET_* value. It refuses what the kernel's checker would.
import { ARCHES, type SeccompArch, syscallNumber } from "../../src/linux/seccomp/arch.ts";

export interface SeccompData {
  nr: number;
  arch: number;
  ip?: bigint;
  args?: bigint[];
}

const SECCOMP_DATA_SIZE = 64;

/** struct seccomp_data's bytes, little-endian. */
function dataBytes(d: SeccompData): DataView {
  const view = new DataView(new ArrayBuffer(SECCOMP_DATA_SIZE));
  view.setInt32(0, d.nr, true);
  view.setUint32(4, d.arch >>> 0, true);
  view.setBigUint64(8, d.ip ?? 0n, true);
  (d.args ?? []).forEach((a, i) => view.setBigUint64(16 + 8 * i, BigInt.asUintN(64, a), true));
  return view;
}

/** Unpacks code | jt << 16 | jf << 24 | k << 32 from each signed 64-bit value. */
export function unpack(packed: ArrayLike<bigint>): { code: number; jt: number; jf: number; k: number }[] {
  return Array.from(packed, (p) => {
    const u = BigInt.asUintN(64, p);
    return { code: Number(u & 0xffffn), jt: Number((u >> 16n) & 0xffn), jf: Number((u >> 24n) & 0xffn), k: Number(u >> 32n) };
  });
}

/** The program's return value for data. */
export function runFilter(packed: ArrayLike<bigint>, data: SeccompData): number {
  const prog = unpack(packed);
  const mem = dataBytes(data);
  let a = 0;
  let pc = 0;
  for (;;) {
    if (pc >= prog.length) throw new Error(`filter ran off its end at ${pc}`);
    const { code, jt, jf, k } = prog[pc];
    const jump = (cond: boolean) => {
      pc += 1 + (cond ? jt : jf);
    };
    switch (code) {
      case 0x20: // ld [k]
        if (k % 4 !== 0 || k + 4 > SECCOMP_DATA_SIZE) throw new Error(`bad load offset ${k} at ${pc}`);
        a = mem.getUint32(k, true);
        pc++;
        break;
      case 0x54: // and #k
        a = (a & k) >>> 0;
        pc++;
        break;
      case 0x05: // ja
        pc += 1 + k;
        break;
      case 0x15:
        jump(a === k);
        break;
      case 0x25:
        jump(a > k);
        break;
      case 0x35:
        jump(a >= k);
        break;
      case 0x45:
        jump((a & k) !== 0);
        break;
      case 0x06: // ret #k
        return k;
      default:
        throw new Error(`unknown opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
}

/** runFilter for a call by name on arch's native ABI. */
export function runCall(packed: ArrayLike<bigint>, arch: SeccompArch, name: string, args: (bigint | number)[] = []): number {
  const nr = syscallNumber(arch, name);
  if (nr === undefined) throw new Error(`test: ${arch} has no ${name}`);
  return runFilter(packed, { nr, arch: ARCHES[arch].auditArch, args: args.map((a) => BigInt(a)) });
}
