import { describe, expect, test } from "bun:test";
import { ARCHES, type SeccompArch, syscallNumber } from "../../src/linux/seccomp/arch.ts";
import { packFilter } from "../../src/linux/seccomp/bpf.ts";
import { compileFilter, hostSeccompArch } from "../../src/linux/seccomp/compile.ts";
import { DEFAULT_PROFILE } from "../../src/linux/seccomp/default-profile.ts";
import { type CompareOp, type Profile, Ret } from "../../src/linux/seccomp/profile.ts";
import { runCall, runFilter } from "./seccomp-interpreter.ts";

const EPERM = Ret.errno(1);
const ENOSYS = Ret.errno(38);
const KERNEL = "6.18.0-cbox";
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNS = 0x00020000;
const SIGCHLD = 17;
const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_ARM = 0x40000028;

const defaultFilter = (arch: SeccompArch, caps: string[] = [], kernel = KERNEL) =>
  packFilter(compileFilter(DEFAULT_PROFILE, { arch, caps: new Set(caps), kernel }));

describe("syscall tables", () => {
  test("aarch64 numbers are asm-generic's", () => {
    const want = { openat: 56, clone: 220, clone3: 435, unshare: 97, setns: 268, mount: 40, pivot_root: 41, bpf: 280, fstat: 80, newfstatat: 79, open_tree_attr: 467 };
    for (const [name, nr] of Object.entries(want)) expect([name, syscallNumber("aarch64", name)]).toEqual([name, nr]);
    for (const name of ["open", "fork", "fcntl64", "mmap2", "_llseek", "sync_file_range2"]) expect(syscallNumber("aarch64", name)).toBeUndefined();
  });

  test("x86_64 numbers are unistd_64.h's", () => {
    const want = { read: 0, clone: 56, unshare: 272, clone3: 435, open_by_handle_at: 304, personality: 135, socket: 41, fchmodat2: 452 };
    for (const [name, nr] of Object.entries(want)) expect([name, syscallNumber("x86_64", name)]).toEqual([name, nr]);
    expect(syscallNumber("x86_64", "toString")).toBeUndefined();
  });
});

describe("hostSeccompArch", () => {
  test("maps Node's names", () => {
    expect(hostSeccompArch("x64")).toBe("x86_64");
    expect(hostSeccompArch("arm64")).toBe("aarch64");
  });

  test("refuses others", () => {
    expect(() => hostSeccompArch("ia32")).toThrow("seccomp: no system call table for the ia32 architecture (cbox knows x86_64 and aarch64)");
  });
});

describe.each(["x86_64", "aarch64"] as const)("default profile on %s", (arch) => {
  const filter = defaultFilter(arch);
  const call = (name: string, ...args: (number | bigint)[]) => runCall(filter, arch, name, args);

  test("fits easily", () => {
    expect(compileFilter(DEFAULT_PROFILE, { arch, caps: new Set(), kernel: KERNEL }).length).toBeLessThan(160);
  });

  test("allows ordinary calls", () => {
    for (const name of ["getpid", "openat", "read", "execve", "adjtimex", "name_to_handle_at", "setuid", "statx"]) expect([name, call(name)]).toEqual([name, Ret.allow]);
  });

  test("refuses the dangerous ones with EPERM", () => {
    for (const name of ["mount", "umount2", "pivot_root", "unshare", "setns", "bpf", "init_module", "kexec_load", "keyctl", "open_by_handle_at", "reboot", "syslog", "io_uring_setup", "userfaultfd", "open_tree_attr", "chroot"]) {
      expect([name, call(name)]).toEqual([name, EPERM]);
    }
  });

  test("clone: allowed without namespace flags, whatever the high word", () => {
    expect(call("clone", SIGCHLD)).toBe(Ret.allow);
    expect(call("clone", 0x1_0000_0000n | BigInt(SIGCHLD))).toBe(Ret.allow);
    expect(call("clone", CLONE_NEWUSER | SIGCHLD)).toBe(EPERM);
    expect(call("clone", CLONE_NEWNS)).toBe(EPERM);
    expect(call("clone", 0x1_0000_0000n | BigInt(CLONE_NEWUSER))).toBe(EPERM);
  });

  test("clone3 fails with ENOSYS, so libcs fall back to clone", () => {
    expect(call("clone3")).toBe(ENOSYS);
  });

  test("personality: only docker's values", () => {
    for (const p of [0, 8, 0x20000, 0x20008, 0xffffffff]) expect(call("personality", p)).toBe(Ret.allow);
    expect(call("personality", 0x0400000)).toBe(EPERM); // READ_IMPLIES_EXEC
    expect(call("personality", 0x0040000)).toBe(EPERM); // ADDR_NO_RANDOMIZE
    expect(call("personality", 0x1_0000_0000n)).toBe(EPERM); // 0 in the low word only
  });

  test("socket: AF_ALG and AF_VSOCK refused, others allowed", () => {
    expect(call("socket", 2)).toBe(Ret.allow);
    expect(call("socket", 39)).toBe(Ret.allow);
    expect(call("socket", 38)).toBe(EPERM);
    expect(call("socket", 40)).toBe(EPERM);
    expect(call("socket", 0x1_0000_0028n)).toBe(Ret.allow);
  });

  test("a foreign ABI gets ENOSYS", () => {
    const getpid = syscallNumber(arch, "getpid")!;
    expect(runFilter(filter, { nr: getpid, arch: arch === "x86_64" ? AUDIT_ARCH_I386 : AUDIT_ARCH_ARM })).toBe(ENOSYS);
    expect(runFilter(filter, { nr: getpid, arch: ARCHES[arch === "x86_64" ? "aarch64" : "x86_64"].auditArch })).toBe(ENOSYS);
  });

  test("CAP_SYS_ADMIN lifts mounts and namespaces", () => {
    const admin = defaultFilter(arch, ["CAP_SYS_ADMIN"]);
    for (const name of ["mount", "umount2", "unshare", "setns", "bpf", "syslog", "open_tree"]) expect([name, runCall(admin, arch, name)]).toEqual([name, Ret.allow]);
    expect(runCall(admin, arch, "clone", [CLONE_NEWUSER | SIGCHLD])).toBe(Ret.allow);
    expect(runCall(admin, arch, "clone3")).toBe(Ret.allow);
    expect(runCall(admin, arch, "pivot_root")).toBe(EPERM); // docker never lifts it
    expect(runCall(admin, arch, "init_module")).toBe(EPERM);
  });

  test("each group is lifted by its own capability", () => {
    const lifted: [string, string][] = [
      ["CAP_SYS_MODULE", "finit_module"], ["CAP_SYS_BOOT", "reboot"], ["CAP_DAC_READ_SEARCH", "open_by_handle_at"],
      ["CAP_SYSLOG", "syslog"], ["CAP_BPF", "bpf"], ["CAP_PERFMON", "perf_event_open"], ["CAP_SYS_TIME", "settimeofday"],
      ["CAP_SYS_PACCT", "acct"], ["CAP_SYS_PTRACE", "kcmp"], ["CAP_SYS_TTY_CONFIG", "vhangup"], ["CAP_SYS_NICE", "mbind"],
      ["CAP_SYS_CHROOT", "chroot"],
    ];
    for (const [cap, name] of lifted) {
      expect([cap, name, call(name)]).toEqual([cap, name, EPERM]);
      expect([cap, name, runCall(defaultFilter(arch, [cap]), arch, name)]).toEqual([cap, name, Ret.allow]);
    }
  });

  test("ptrace: allowed from kernel 4.8, before that only with CAP_SYS_PTRACE", () => {
    expect(call("ptrace")).toBe(Ret.allow);
    expect(runCall(defaultFilter(arch, [], "4.4.0-generic"), arch, "ptrace")).toBe(EPERM);
    expect(runCall(defaultFilter(arch, ["CAP_SYS_PTRACE"], "4.4.0"), arch, "process_vm_readv")).toBe(Ret.allow);
  });
});

describe("default profile on x86_64 only", () => {
  test("x32 calls get ENOSYS", () => {
    const filter = defaultFilter("x86_64");
    const x32 = 0x40000000;
    expect(runFilter(filter, { nr: x32 | syscallNumber("x86_64", "getpid")!, arch: ARCHES.x86_64.auditArch })).toBe(ENOSYS);
    expect(runFilter(filter, { nr: x32 | 512, arch: ARCHES.x86_64.auditArch })).toBe(ENOSYS);
  });

  test("every name it lists is a call of x86_64 or aarch64, but for the 32-bit-only ones", () => {
    const thirtyTwoBitOnly = ["vm86", "vm86old", "umount", "stime", "clock_settime64"];
    const names = new Set(DEFAULT_PROFILE.rules.flatMap((r) => r.names));
    const unknown = [...names].filter((n) => syscallNumber("x86_64", n) === undefined && syscallNumber("aarch64", n) === undefined);
    expect(unknown.sort()).toEqual(thirtyTwoBitOnly.sort());
  });
});

describe("compileFilter's argument comparisons", () => {
  // Values around the 32-bit boundary, where a comparison of one half alone goes wrong.
  const samples = [0n, 1n, 0x7fffffffn, 0xffffffffn, 0x1_0000_0000n, 0x1_0000_0001n, 0x1_ffff_ffffn, 0x2_0000_0000n, 0xffff_ffff_0000_0000n, 0xffff_ffff_ffff_ffffn];
  const truth: Record<Exclude<CompareOp, "MASKED_EQ">, (a: bigint, v: bigint) => boolean> = {
    EQ: (a, v) => a === v, NE: (a, v) => a !== v, LT: (a, v) => a < v, LE: (a, v) => a <= v, GT: (a, v) => a > v, GE: (a, v) => a >= v,
  };

  for (const [op, holds] of Object.entries(truth) as [CompareOp, (a: bigint, v: bigint) => boolean][]) {
    test(`${op} compares all 64 bits, unsigned`, () => {
      for (const value of samples) {
        const profile: Profile = { defaultAction: EPERM, rules: [{ names: ["lseek"], action: Ret.allow, args: [{ index: 1, op, value, valueTwo: 0n }] }] };
        const filter = packFilter(compileFilter(profile, { arch: "x86_64", caps: new Set(), kernel: KERNEL }));
        for (const arg of samples) {
          const want = holds(arg, value) ? Ret.allow : EPERM;
          expect([op, value, arg, runCall(filter, "x86_64", "lseek", [3, arg])]).toEqual([op, value, arg, want]);
        }
      }
    });
  }

  test("MASKED_EQ: (arg & value) == valueTwo on both halves", () => {
    const masks = [0xffn, 0xff_0000_0000n, 0xffff_ffff_ffff_ffffn, 0x7e020000n];
    for (const mask of masks) {
      for (const want of [0n, 0x12n, 0x12_0000_0000n]) {
        const profile: Profile = { defaultAction: EPERM, rules: [{ names: ["mmap"], action: Ret.allow, args: [{ index: 3, op: "MASKED_EQ", value: mask, valueTwo: want }] }] };
        const filter = packFilter(compileFilter(profile, { arch: "aarch64", caps: new Set(), kernel: KERNEL }));
        for (const arg of [...samples, 0x12n, 0x12_0000_0012n, 0x13_0000_0000n]) {
          const expected = (arg & mask) === want ? Ret.allow : EPERM;
          expect([mask, want, arg, runCall(filter, "aarch64", "mmap", [0, 0, 0, arg])]).toEqual([mask, want, arg, expected]);
        }
      }
    }
  });

  test("checks on one rule are ANDed; rules are tried in order and ORed", () => {
    const profile: Profile = {
      defaultAction: Ret.allow,
      rules: [
        { names: ["kill"], action: Ret.errno(3), args: [{ index: 0, op: "EQ", value: 1n, valueTwo: 0n }, { index: 1, op: "EQ", value: 9n, valueTwo: 0n }] },
        { names: ["kill"], action: Ret.errno(4), args: [{ index: 1, op: "GE", value: 9n, valueTwo: 0n }] },
        { names: ["kill", "tkill"], action: Ret.errno(5), args: [] },
      ],
    };
    const filter = packFilter(compileFilter(profile, { arch: "x86_64", caps: new Set(), kernel: KERNEL }));
    expect(runCall(filter, "x86_64", "kill", [1, 9])).toBe(Ret.errno(3));
    expect(runCall(filter, "x86_64", "kill", [2, 9])).toBe(Ret.errno(4));
    expect(runCall(filter, "x86_64", "kill", [1, 8])).toBe(Ret.errno(5));
    expect(runCall(filter, "x86_64", "tkill", [1, 9])).toBe(Ret.errno(5));
    expect(runCall(filter, "x86_64", "getpid")).toBe(Ret.allow);
  });

  test("a long allow-list is split into blocks the jumps can reach", () => {
    const names = Object.keys(ARCHES.x86_64.syscalls()).filter((n) => n !== "reboot");
    const profile: Profile = { defaultAction: EPERM, rules: [{ names, action: Ret.allow, args: [] }] };
    const insns = compileFilter(profile, { arch: "x86_64", caps: new Set(), kernel: KERNEL });
    const filter = packFilter(insns);
    expect(insns.length).toBeLessThan(names.length + 12);
    for (const name of names) expect([name, runCall(filter, "x86_64", name)]).toEqual([name, Ret.allow]);
    expect(runCall(filter, "x86_64", "reboot")).toBe(EPERM);
  });
});
