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
  write: 35,
  prctl: 36,
  rlimit: 37,
  /** Closes the error pipe: the parent's release() returns here; later failures end the child with 125. */
  ready: 38,
  chown: 39,
  /** Fails as exec would when the program is not there: a check made before a wait (OCI create). */
  findExec: 40,
  /** Runs an OCI hook in the container's namespaces, its stdin a file open at an fd; it must exit 0. */
  hook: 41,
  /** Forks: the child goes on with the plan, this process reports its pid to the parent and ends. */
  forkReport: 42,
} as const;

export type OpName = keyof typeof OpCode;

/** One step of the plan: plain data, so plans can be built and checked without a kernel. */
export interface Op {
  op: OpName;
  /**
   * Signed 64-bit each; a bigint carries values past 2^53. A BigInt64Array (a packed seccomp
   * filter) is copied into the plan as it is.
   */
  ints?: (number | bigint)[] | BigInt64Array;
  strs?: string[];
}

const encoder = new TextEncoder();
const TWO_32 = 2 ** 32;

/**
 * Serializes ops as records: u32 code, nints, nstrs, size | i64 ints | NUL-ended strings | pad 8.
 * Written in one pass into one buffer: it runs at every start.
 */
export function encodePlan(ops: Op[]): Uint8Array {
  let most = 0;
  for (const { ints, strs } of ops) {
    most += 16 + 8 * (ints?.length ?? 0) + 8;
    for (const s of strs ?? []) most += 3 * s.length + 1; // UTF-8 needs at most 3 bytes per UTF-16 unit
  }
  const buf = new Uint8Array(most);
  const view = new DataView(buf.buffer);
  let off = 0;
  for (const op of ops) off = encodeOp(op, buf, view, off);
  return buf.subarray(0, off);
}

/** Writes op's record at start; returns where the next one begins. */
function encodeOp({ op, ints = [], strs = [] }: Op, buf: Uint8Array, view: DataView, start: number): number {
  let off = start + 16;
  if (ints instanceof BigInt64Array) {
    buf.set(new Uint8Array(ints.buffer, ints.byteOffset, ints.byteLength), off);
    off += ints.byteLength;
  } else {
    for (const v of ints) {
      writeInt64(view, off, v, op);
      off += 8;
    }
  }
  for (const s of strs) {
    if (s.includes("\0")) throw new Error(`${op}: a string holds a NUL byte`);
    off += encoder.encodeInto(s, buf.subarray(off)).written + 1; // the buffer is zeroed: the NUL is there
  }
  const size = Math.ceil((off - start) / 8) * 8;
  view.setUint32(start, OpCode[op], true);
  view.setUint32(start + 4, ints.length, true);
  view.setUint32(start + 8, strs.length, true);
  view.setUint32(start + 12, size, true);
  return start + size;
}

function writeInt64(view: DataView, off: number, v: number | bigint, op: OpName): void {
  if (typeof v === "bigint") return view.setBigInt64(off, BigInt.asIntN(64, v), true);
  if (!Number.isSafeInteger(v)) throw new Error(`${op}: ${v} is not an integer cbox can pass on`);
  const high = Math.floor(v / TWO_32);
  view.setUint32(off, v - high * TWO_32, true);
  view.setInt32(off + 4, high, true);
}
