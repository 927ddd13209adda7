// The setup plan: what the shim's child does, in order, between clone and execve.
// Codes and the record layout must match the C shim (the enum in c/prelude.c, decode in c/plan.c).

export const OpCode = {
  mount: 1,
  umount: 2,
  mkdir: 3,
  mknod: 4,
  symlink: 5,
  touch: 6,
  pivotRoot: 7,
  rmdir: 8,
  sethostname: 9,
  chdir: 10,
  loopbackUp: 11,
  umask: 12,
  setgroups: 13,
  setgid: 14,
  setuid: 15,
  openDup: 16,
  closeFrom: 17,
  exec: 18,
  pdeathsig: 19,
  exit: 20,
  init: 21,
  setsid: 22,
  dup2: 23,
  console: 24,
  cloneTree: 25,
  attachTree: 26,
  unshare: 27,
  setns: 28,
  dropBounding: 29,
  capset: 30,
  noNewPrivs: 31,
  seccomp: 32,
  dumpable: 33,
  setxattr: 34,
} as const;

export type OpName = keyof typeof OpCode;

/** One step of the plan: plain data, so plans can be built and checked without a kernel. */
export interface Op {
  op: OpName;
  /** Signed 64-bit each; a bigint carries values past 2^53 (a packed BPF instruction). */
  ints?: (number | bigint)[];
  strs?: string[];
}

const encoder = new TextEncoder();

/** Serializes ops as records: u32 code, nints, nstrs, size | i64 ints | NUL-ended strings | pad 8. */
export function encodePlan(ops: Op[]): Uint8Array {
  const records = ops.map(encodeOp);
  const out = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  let off = 0;
  for (const r of records) {
    out.set(r, off);
    off += r.length;
  }
  return out;
}

function encodeOp({ op, ints = [], strs = [] }: Op): Uint8Array {
  const bytes = strs.map((s) => {
    if (s.includes("\0")) throw new Error(`${op}: a string holds a NUL byte`);
    return encoder.encode(s);
  });
  const strLen = bytes.reduce((n, b) => n + b.length + 1, 0);
  const size = Math.ceil((16 + 8 * ints.length + strLen) / 8) * 8;
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  view.setUint32(0, OpCode[op], true);
  view.setUint32(4, ints.length, true);
  view.setUint32(8, strs.length, true);
  view.setUint32(12, size, true);
  ints.forEach((v, i) => view.setBigInt64(16 + 8 * i, BigInt.asIntN(64, BigInt(v)), true));
  let off = 16 + 8 * ints.length;
  for (const b of bytes) {
    buf.set(b, off);
    off += b.length + 1;
  }
  return buf;
}
