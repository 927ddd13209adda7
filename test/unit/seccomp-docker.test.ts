import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SeccompArch } from "../../src/linux/seccomp/arch.ts";
import { packFilter } from "../../src/linux/seccomp/bpf.ts";
import { compileFilter } from "../../src/linux/seccomp/compile.ts";
import { loadDockerProfile, parseDockerProfile } from "../../src/linux/seccomp/docker-profile.ts";
import { type Profile, Ret } from "../../src/linux/seccomp/profile.ts";
import { runCall } from "./seccomp-interpreter.ts";

const FILE = "/etc/cbox/profile.json";
const EPERM = Ret.errno(1);
const ENOSYS = Ret.errno(38);

// docker's default.json (moby/profiles seccomp), cut down: the same shape, each kind of entry once.
const DOCKER_DEFAULT = {
  defaultAction: "SCMP_ACT_ERRNO",
  defaultErrnoRet: 1,
  archMap: [
    { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
    { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
    { architecture: "SCMP_ARCH_RISCV64", subArchitectures: null },
  ],
  syscalls: [
    { names: ["accept", "close", "execve", "exit_group", "getpid", "openat", "read", "write", "socketcall", "_llseek"], action: "SCMP_ACT_ALLOW" },
    { names: ["process_vm_readv", "process_vm_writev", "ptrace"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "4.8" } },
    { names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 38, op: "SCMP_CMP_LT" }] },
    { names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 40, op: "SCMP_CMP_GT" }] },
    { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0, op: "SCMP_CMP_EQ" }] },
    { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 4294967295, op: "SCMP_CMP_EQ" }] },
    { names: ["arm_fadvise64_64", "breakpoint", "cacheflush", "set_tls"], action: "SCMP_ACT_ALLOW", includes: { arches: ["arm", "arm64"] } },
    { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64", "x32"] } },
    { names: ["open_by_handle_at"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_DAC_READ_SEARCH"] } },
    { names: ["bpf", "clone", "clone3", "mount", "setns", "umount2", "unshare"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
    {
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: 2114060288, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      excludes: { caps: ["CAP_SYS_ADMIN"], arches: ["s390", "s390x"] },
    },
    {
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 1, value: 2114060288, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      comment: "s390 parameter ordering for clone is different",
      includes: { arches: ["s390", "s390x"] },
      excludes: { caps: ["CAP_SYS_ADMIN"] },
    },
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38, excludes: { caps: ["CAP_SYS_ADMIN"] } },
    { names: ["kcmp", "pidfd_getfd", "ptrace"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_PTRACE"] } },
    { names: ["bpf"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_BPF"] } },
  ],
};

const parse = (json: unknown): Profile => parseDockerProfile(JSON.stringify(json), FILE)!;
const filterFor = (profile: Profile, arch: SeccompArch, caps: string[] = [], kernel = "6.18.0") =>
  packFilter(compileFilter(profile, { arch, caps: new Set(caps), kernel }));

describe.each(["x86_64", "aarch64"] as const)("docker's default profile on %s", (arch) => {
  const profile = parse(DOCKER_DEFAULT);
  const filter = filterFor(profile, arch);
  const call = (name: string, ...args: (number | bigint)[]) => runCall(filter, arch, name, args);

  test("allows the list and refuses the rest with defaultErrnoRet", () => {
    for (const name of ["getpid", "openat", "execve"]) expect([name, call(name)]).toEqual([name, Ret.allow]);
    for (const name of ["mount", "unshare", "kexec_load", "bpf", "open_by_handle_at", "kcmp"]) expect([name, call(name)]).toEqual([name, EPERM]);
  });

  test("names this arch lacks are skipped (socketcall, _llseek, arm's, x86's)", () => {
    expect(compileFilter(profile, { arch, caps: new Set(), kernel: "6.18.0" }).length).toBeGreaterThan(10);
    if (arch === "x86_64") expect(call("arch_prctl")).toBe(Ret.allow);
  });

  test("includes.caps: the group is allowed only with the capability", () => {
    const admin = filterFor(profile, arch, ["CAP_SYS_ADMIN"]);
    for (const name of ["mount", "unshare", "setns", "umount2", "bpf"]) expect([name, runCall(admin, arch, name)]).toEqual([name, Ret.allow]);
    expect(runCall(admin, arch, "clone3")).toBe(Ret.allow);
    expect(runCall(admin, arch, "clone", [0x10000000 | 17])).toBe(Ret.allow);
    expect(runCall(filterFor(profile, arch, ["CAP_BPF"]), arch, "bpf")).toBe(Ret.allow);
    expect(runCall(filterFor(profile, arch, ["CAP_DAC_READ_SEARCH"]), arch, "open_by_handle_at")).toBe(Ret.allow);
  });

  test("excludes.caps and MASKED_EQ: clone without namespace flags", () => {
    expect(call("clone", 17)).toBe(Ret.allow);
    expect(call("clone", 0x10000000 | 17)).toBe(EPERM);
    expect(call("clone3")).toBe(ENOSYS);
  });

  test("minKernel", () => {
    expect(call("ptrace")).toBe(Ret.allow);
    expect(runCall(filterFor(profile, arch, [], "4.4.0-210-generic"), arch, "ptrace")).toBe(EPERM);
    expect(runCall(filterFor(profile, arch, ["CAP_SYS_PTRACE"], "4.4.0"), arch, "ptrace")).toBe(Ret.allow);
  });

  test("argument rules for one call are ORed", () => {
    expect(call("socket", 2)).toBe(Ret.allow);
    expect(call("socket", 41)).toBe(Ret.allow);
    expect(call("socket", 38)).toBe(EPERM);
    expect(call("socket", 40)).toBe(EPERM);
    expect(call("personality", 0)).toBe(Ret.allow);
    expect(call("personality", 0xffffffff)).toBe(Ret.allow);
    expect(call("personality", 0x400000)).toBe(EPERM);
  });
});

describe("parseDockerProfile", () => {
  const allowList = (syscalls: unknown[], extra: object = {}) => parse({ defaultAction: "SCMP_ACT_ERRNO", syscalls, ...extra });

  test("excludes.arches against docker's arch names", () => {
    const profile = allowList([{ names: ["mkdirat"], action: "SCMP_ACT_ALLOW", excludes: { arches: ["arm64"] } }]);
    expect(runCall(filterFor(profile, "x86_64"), "x86_64", "mkdirat")).toBe(Ret.allow);
    expect(runCall(filterFor(profile, "aarch64"), "aarch64", "mkdirat")).toBe(EPERM);
  });

  test("GT on a 64-bit value whose high word decides", () => {
    const profile = allowList([{ names: ["lseek"], action: "SCMP_ACT_ALLOW", args: [{ index: 1, value: 4294967296, op: "SCMP_CMP_GT" }] }]);
    const f = filterFor(profile, "x86_64");
    expect(runCall(f, "x86_64", "lseek", [3, 0x1_0000_0001n])).toBe(Ret.allow);
    expect(runCall(f, "x86_64", "lseek", [3, 0x2_0000_0000n])).toBe(Ret.allow);
    expect(runCall(f, "x86_64", "lseek", [3, 0xffff_ffffn])).toBe(EPERM);
    expect(runCall(f, "x86_64", "lseek", [3, 0x1_0000_0000n])).toBe(EPERM);
  });

  test("MASKED_EQ: value is the mask, valueTwo the expected bits", () => {
    const profile = allowList([{ names: ["mmap"], action: "SCMP_ACT_ALLOW", args: [{ index: 2, value: 0xff_0000_0000, valueTwo: 0x12_0000_0000, op: "SCMP_CMP_MASKED_EQ" }] }]);
    const f = filterFor(profile, "aarch64");
    expect(runCall(f, "aarch64", "mmap", [0, 0, 0x12_0000_0000n])).toBe(Ret.allow);
    expect(runCall(f, "aarch64", "mmap", [0, 0, 0x12_ffff_ffffn])).toBe(Ret.allow);
    expect(runCall(f, "aarch64", "mmap", [0, 0, 0x13_0000_0000n])).toBe(EPERM);
  });

  test("values past 2^53 are read exactly", () => {
    const text = `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]}`;
    const profile = parseDockerProfile(text, FILE)!;
    expect(profile.rules[0].args[0].value).toBe(0xffff_ffff_ffff_ffffn);
    const f = filterFor(profile, "x86_64");
    expect(runCall(f, "x86_64", "kill", [-1n])).toBe(EPERM);
    expect(runCall(f, "x86_64", "kill", [0xffff_ffff_ffff_fffen])).toBe(Ret.allow);
  });

  test("the old single name field, and unknown names skipped", () => {
    const profile = allowList([{ name: "getpid", action: "SCMP_ACT_ALLOW" }, { names: ["no_such_call", "gettid"], action: "SCMP_ACT_ALLOW" }]);
    const f = filterFor(profile, "x86_64");
    expect(runCall(f, "x86_64", "getpid")).toBe(Ret.allow);
    expect(runCall(f, "x86_64", "gettid")).toBe(Ret.allow);
  });

  test("actions and their data", () => {
    const rule = (action: string, errnoRet?: number) => allowList([{ names: ["getpid"], action, ...(errnoRet === undefined ? {} : { errnoRet }) }]).rules[0].action;
    expect(rule("SCMP_ACT_ALLOW")).toBe(0x7fff0000);
    expect(rule("SCMP_ACT_ERRNO", 13)).toBe(0x0005000d);
    expect(rule("SCMP_ACT_KILL")).toBe(0);
    expect(rule("SCMP_ACT_KILL_THREAD")).toBe(0);
    expect(rule("SCMP_ACT_KILL_PROCESS")).toBe(0x80000000);
    expect(rule("SCMP_ACT_TRAP")).toBe(0x00030000);
    expect(rule("SCMP_ACT_LOG")).toBe(0x7ffc0000);
    expect(rule("SCMP_ACT_TRACE")).toBe(0x7ff00001);
    expect(rule("SCMP_ACT_TRACE", 7)).toBe(0x7ff00007);
    expect(parse({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38 }).defaultAction).toBe(ENOSYS);
    expect(parse({ defaultAction: "SCMP_ACT_ERRNO" }).defaultAction).toBe(EPERM);
  });

  test("a rule doing what the default does is left out, as runc does", () => {
    const profile = allowList([
      { names: ["socket"], action: "SCMP_ACT_ERRNO" },
      { names: ["socket"], action: "SCMP_ACT_ALLOW" },
    ]);
    expect(profile.rules).toHaveLength(1);
    expect(runCall(filterFor(profile, "x86_64"), "x86_64", "socket", [2])).toBe(Ret.allow);
  });

  test("two checks on one argument are ORed, as runc does", () => {
    const profile = allowList([{ names: ["kill"], action: "SCMP_ACT_ALLOW", args: [{ index: 1, value: 9, op: "SCMP_CMP_EQ" }, { index: 1, value: 15, op: "SCMP_CMP_EQ" }] }]);
    const f = filterFor(profile, "x86_64");
    expect(runCall(f, "x86_64", "kill", [1, 9])).toBe(Ret.allow);
    expect(runCall(f, "x86_64", "kill", [1, 15])).toBe(Ret.allow);
    expect(runCall(f, "x86_64", "kill", [1, 2])).toBe(EPERM);
  });

  test("checks on different arguments are ANDed", () => {
    const profile = allowList([{ names: ["kill"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }, { index: 1, value: 15, op: "SCMP_CMP_EQ" }] }]);
    const f = filterFor(profile, "x86_64");
    expect(runCall(f, "x86_64", "kill", [1, 15])).toBe(Ret.allow);
    expect(runCall(f, "x86_64", "kill", [2, 15])).toBe(EPERM);
  });

  test("neither defaultAction nor syscalls: no filter, as docker", () => {
    expect(parseDockerProfile("{}", FILE)).toBeNull();
    expect(parseDockerProfile(`{"syscalls": []}`, FILE)).toBeNull();
  });
});

describe("parseDockerProfile errors", () => {
  const cases: [string, string, string][] = [
    ["bad JSON", `{"defaultAction": `, `${FILE}: not valid JSON: `],
    ["not an object", `[]`, `${FILE}: must be an object, not an array`],
    ["unknown action", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_MAYBE"}]}`, `${FILE}: syscalls[0].action: unknown action "SCMP_ACT_MAYBE"`],
    ["unknown default action", `{"defaultAction":"ALLOW"}`, `${FILE}: defaultAction: unknown action "ALLOW"`],
    ["action of the wrong type", `{"defaultAction":1}`, `${FILE}: defaultAction: must be an action name (SCMP_ACT_...), not the number 1`],
    ["notify", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}`, `${FILE}: syscalls[0].action: SCMP_ACT_NOTIFY is not supported (cbox has no seccomp agent)`],
    ["unknown op", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}`, `${FILE}: syscalls[0].args[0].op: unknown comparison "SCMP_CMP_ABOUT" (SCMP_CMP_EQ, NE, LT, LE, GT, GE or MASKED_EQ)`],
    ["index out of range", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`, `${FILE}: syscalls[0].args[0].index: must be an argument number from 0 to 5, not the number 6`],
    ["negative value", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}`, `${FILE}: syscalls[0].args[0].value: must be an unsigned 64-bit integer, not the number -1`],
    ["value as a string", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":"1","op":"SCMP_CMP_EQ"}]}]}`, `${FILE}: syscalls[0].args[0].value: must be an unsigned 64-bit integer, not the string "1"`],
    ["value past 64 bits", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":18446744073709551616,"op":"SCMP_CMP_EQ"}]}]}`, `${FILE}: syscalls[0].args[0].value: must be an unsigned 64-bit integer, not the number 18446744073709551616`],
    ["names not an array", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"read","action":"SCMP_ACT_ERRNO"}]}`, `${FILE}: syscalls[0].names: must be an array, not the string "read"`],
    ["a name not a string", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read",3],"action":"SCMP_ACT_ERRNO"}]}`, `${FILE}: syscalls[0].names[1]: must be a string, not the number 3`],
    ["no names", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}`, `${FILE}: syscalls[0]: has no names`],
    ["name and names", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ERRNO"}]}`, `${FILE}: syscalls[0]: both name and names are given; use names`],
    ["syscalls not an array", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}`, `${FILE}: syscalls: must be an array, not an object`],
    ["architectures and archMap", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`, `${FILE}: both architectures and archMap are given; use one`],
    ["unknown architecture", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_VAX"]}`, `${FILE}: architectures[0]: unknown architecture "SCMP_ARCH_VAX"`],
    ["unknown sub-architecture", `{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["X86"]}]}`, `${FILE}: archMap[0].subArchitectures[0]: unknown architecture "X86"`],
    ["minKernel with a patch level", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"4.8.1"}}]}`, `${FILE}: syscalls[0].includes.minKernel: must be a kernel version "<kernel>.<major>" such as "4.8", not the string "4.8.1"`],
    ["caps not strings", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","excludes":{"caps":[21]}}]}`, `${FILE}: syscalls[0].excludes.caps[0]: must be a string, not the number 21`],
    ["no default action", `{"syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO"}]}`, `${FILE}: defaultAction: is missing`],
    ["no rule action", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"]}]}`, `${FILE}: syscalls[0].action: is missing`],
    ["no op", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1}]}]}`, `${FILE}: syscalls[0].args[0].op: is missing`],
    ["errno too big", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":5000}`, `${FILE}: defaultErrnoRet: must be an errno number from 0 to 4095, not the number 5000`],
    ["filter flags", `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"]}`, `${FILE}: flags: filter flags are not supported`],
    ["listener", `{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock"}`, `${FILE}: listenerPath: seccomp notification (SCMP_ACT_NOTIFY) is not supported`],
  ];

  for (const [what, text, message] of cases) {
    test(what, () => {
      let error: Error | undefined;
      try {
        parseDockerProfile(text, FILE);
      } catch (err) {
        error = err as Error;
      }
      expect(error).toBeInstanceOf(Error);
      expect(error!.message).not.toContain("\n");
      if (what === "bad JSON") expect(error!.message.startsWith(message)).toBe(true);
      else expect(error!.message).toBe(message);
    });
  }

  test("loadDockerProfile reads the file, and names it when it cannot", () => {
    const dir = mkdtempSync(join(tmpdir(), "cbox-seccomp-"));
    try {
      const file = join(dir, "p.json");
      writeFileSync(file, JSON.stringify(DOCKER_DEFAULT, null, 2));
      expect(loadDockerProfile(file)?.defaultAction).toBe(EPERM);
      const missing = join(dir, "missing.json");
      expect(() => loadDockerProfile(missing)).toThrow(new Error(`${missing}: cannot read it: no such file or directory`));
      writeFileSync(file, "{\n  \"defaultAction\": \n}\n");
      expect(() => loadDockerProfile(file)).toThrow(`${file}: not valid JSON: `);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
