import { describe, expect, test } from "bun:test";
import { release } from "node:os";
import { lockdownFor } from "../../src/container/lockdown.ts";
import type { SecuritySpec } from "../../src/container/security.ts";
import { DEFAULT_CAPABILITIES } from "../../src/linux/capabilities.ts";
import { hostSeccompArch } from "../../src/linux/seccomp/arch.ts";
import { packFilter } from "../../src/linux/seccomp/bpf.ts";
import { compileFilter } from "../../src/linux/seccomp/compile.ts";
import { DEFAULT_PROFILE } from "../../src/linux/seccomp/default-profile.ts";
import { runCall } from "./seccomp-interpreter.ts";

const security = (capabilities: string[]): SecuritySpec => ({
  privileged: false,
  capabilities,
  noNewPrivileges: false,
  seccomp: { kind: "default" },
  readOnly: false,
});

const compiledNow = (caps: string[]) =>
  [...packFilter(compileFilter(DEFAULT_PROFILE, { arch: hostSeccompArch(), caps: new Set(caps), kernel: release() }))];

describe("the default seccomp filter", () => {
  test("built into cbox for the default capabilities, in any order, is the one compiled for this kernel", () => {
    const built = lockdownFor(security([...DEFAULT_CAPABILITIES].reverse())).seccomp!;
    expect(built).toBeInstanceOf(BigInt64Array);
    expect([...built]).toEqual(compiledNow(DEFAULT_CAPABILITIES));
    const EPERM = 0x00050001;
    expect(runCall(built, hostSeccompArch(), "unshare")).toBe(EPERM);
    expect(runCall(built, hostSeccompArch(), "getpid")).toBe(0x7fff0000);
  });

  test("other capabilities get a filter compiled at start, which lifts what they allow", () => {
    const caps = [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"];
    const filter = lockdownFor(security(caps)).seccomp!;
    expect([...filter]).toEqual(compiledNow(caps));
    expect([...filter]).not.toEqual(compiledNow(DEFAULT_CAPABILITIES));
    expect(runCall(filter, hostSeccompArch(), "unshare")).toBe(0x7fff0000);
  });

  test("unconfined has no filter", () => {
    expect(lockdownFor({ ...security(DEFAULT_CAPABILITIES), seccomp: { kind: "unconfined" } }).seccomp).toBeUndefined();
  });
});
