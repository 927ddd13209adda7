// cbox hands the kernel numbers and structs it wrote down itself (no headers on servers). Here each
// is checked against the headers of both architectures it runs on: the host's (libc6-dev,
// linux-libc-dev) and the arm64 cross headers (libc6-dev-arm64-cross), so an x86_64 value used on
// arm64 fails here, on an x86_64 machine, before any arm64 server sees it.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { shimSource, type Arch } from "../../scripts/shim-lib.ts";
import { SIGNALS } from "../../src/linux/signals.ts";
import { errnoName } from "../../src/errors.ts";
import { CAPABILITY_NAMES } from "../../src/linux/capabilities.ts";
import { CloneFlag } from "../../src/linux/namespaces.ts";
import { Termios } from "../../src/linux/termios.ts";
import { ABIS } from "../../src/sys/abi.ts";
import { evaluate, integerDefines } from "./c-constants.ts";

const HEADERS = [
  "#define _GNU_SOURCE",
  ...["errno.h", "fcntl.h", "signal.h", "sched.h", "poll.h", "stddef.h", "sys/ioctl.h", "sys/socket.h", "sys/un.h", "sys/syscall.h", "sys/prctl.h", "net/if.h",
    "linux/audit.h", "linux/bpf.h", "linux/capability.h", "linux/close_range.h", "linux/mount.h", "linux/netlink.h", "linux/seccomp.h", "asm/termbits.h"]
    .map((h) => `#include <${h}>`),
].join("\n");

const SHIM_DIR = join(import.meta.dir, "../../src/sys/c");
/** Where the shim's name is not the headers' own. */
const HEADER_NAME: Record<string, string> = { LINUX_CAPABILITY_VERSION_3: "_LINUX_CAPABILITY_VERSION_3" };
/** The shim's own names (sizes and limits), which no header declares. */
const SHIM_OWN = new Set(["LOG_CHUNK", "MAX_ARGS", "MAX_ENV", "MAPS_SIZE", "MAX_PLAN", "MAX_INTS", "MAX_STRS", "EOF_WAIT_TRIES", "MAX_ATTACHED", "POLL_CLIENTS", "MAX_KEYS"]);

/** Compares what cbox says (ours) with what the headers say, key by key; returns the differences. */
function differences(ours: Record<string, bigint | number>, headers: Map<string, bigint>): string[] {
  return Object.entries(ours)
    .filter(([k, v]) => headers.get(k) !== BigInt(v))
    .map(([k, v]) => `${k}: cbox has ${v}, the headers ${headers.has(k) ? headers.get(k) : "do not declare it"}`);
}

const asExprs = (names: string[]) => Object.fromEntries(names.map((n) => [n, n]));

/** Each struct the shim declares for itself, by what it must match: [shim's expression, the headers' expression]. */
const LAYOUT: Record<string, [string, string]> = {
  pollfd_size: ["sizeof(struct pollfd)", "sizeof(struct pollfd)"],
  pollfd_events: ["offsetof(struct pollfd, events)", "offsetof(struct pollfd, events)"],
  pollfd_revents: ["offsetof(struct pollfd, revents)", "offsetof(struct pollfd, revents)"],
  sigaction_size: ["sizeof(struct sigaction_k)", "sizeof(struct sigaction)"],
  sigaction_mask: ["offsetof(struct sigaction_k, mask)", "offsetof(struct sigaction, sa_mask)"],
  sigaction_flags: ["offsetof(struct sigaction_k, flags)", "offsetof(struct sigaction, sa_flags)"],
  sigaction_restorer: ["offsetof(struct sigaction_k, restorer)", "offsetof(struct sigaction, sa_restorer)"],
  msghdr_size: ["sizeof(((struct fd_message *)0)->hdr)", "sizeof(struct msghdr)"],
  msghdr_iov: ["offsetof(struct fd_message, hdr.iov)", "offsetof(struct msghdr, msg_iov)"],
  msghdr_iovlen: ["offsetof(struct fd_message, hdr.iovlen)", "offsetof(struct msghdr, msg_iovlen)"],
  msghdr_control: ["offsetof(struct fd_message, hdr.control)", "offsetof(struct msghdr, msg_control)"],
  msghdr_controllen: ["offsetof(struct fd_message, hdr.controllen)", "offsetof(struct msghdr, msg_controllen)"],
  msghdr_flags: ["offsetof(struct fd_message, hdr.flags)", "offsetof(struct msghdr, msg_flags)"],
  iovec_size: ["sizeof(((struct fd_message *)0)->iov)", "sizeof(struct iovec)"],
  cmsg_data: ["offsetof(struct fd_message, cmsg.fd) - offsetof(struct fd_message, cmsg)", "CMSG_LEN(0)"],
  cmsg_space: ["sizeof(((struct fd_message *)0)->cmsg)", "CMSG_SPACE(sizeof(int))"],
  sockaddr_un_size: ["sizeof(struct unix_address)", "sizeof(struct sockaddr_un)"],
  sockaddr_un_path: ["offsetof(struct unix_address, path)", "offsetof(struct sockaddr_un, sun_path)"],
  ...Object.fromEntries(["prog_type", "insn_cnt", "insns", "license", "log_level", "log_size", "log_buf", "kern_version", "prog_flags"]
    .map((f): [string, [string, string]] => [`bpf_load_${f}`, [`offsetof(struct bpf_prog_load_attr, ${f})`, `offsetof(union bpf_attr, ${f})`]])),
  ...Object.fromEntries(["target_fd", "attach_bpf_fd", "attach_type", "attach_flags"]
    .map((f): [string, [string, string]] => [`bpf_attach_${f}`, [`offsetof(struct bpf_prog_attach_attr, ${f})`, `offsetof(union bpf_attr, ${f})`]])),
};

describe.each(["x64", "arm64"] as Arch[])("%s: cbox's kernel numbers match the headers", (arch) => {
  test("the per-architecture table (src/sys/abi.ts): open flags and AUDIT_ARCH", () => {
    const abi = ABIS[arch];
    const auditName = arch === "x64" ? "AUDIT_ARCH_X86_64" : "AUDIT_ARCH_AARCH64";
    const ours = { O_DIRECTORY: abi.O_DIRECTORY, O_NOFOLLOW: abi.O_NOFOLLOW, O_TMPFILE: abi.O_TMPFILE, [auditName]: abi.auditArch };
    expect(differences(ours, evaluate(arch, HEADERS, asExprs(Object.keys(ours))))).toEqual([]);
  });

  test("system call numbers: the table's, wherever the headers know the call, and every one the shim makes", async () => {
    const table = ABIS[arch].syscalls();
    const headers = evaluate(arch, HEADERS, Object.fromEntries(Object.keys(table).map((n) => [n, `SYS_${n}`])), true);
    const known = Object.fromEntries(Object.entries(table).filter(([n]) => headers.has(n)));
    expect(Object.keys(known).length).toBeGreaterThan(300);
    expect(differences(known, headers)).toEqual([]);
    const shimCalls = [...new Set((await shimSource(arch)).match(/\bSYS_\w+/g))].map((s) => s.slice(4));
    expect(shimCalls.filter((n) => !headers.has(n))).toEqual([]);
  });

  test("every constant the C shim defines (src/sys/c/*.c)", () => {
    const text = readdirSync(SHIM_DIR).filter((f) => f.endsWith(".c")).map((f) => readFileSync(join(SHIM_DIR, f), "utf8")).join("\n");
    const defines = Object.fromEntries([...integerDefines(text)].filter(([name]) => !SHIM_OWN.has(name) && !name.startsWith("SYS_")));
    expect(Object.keys(defines).length).toBeGreaterThan(40);
    const exprs = Object.fromEntries(Object.keys(defines).map((name) => [name, HEADER_NAME[name] ?? name]));
    expect(differences(defines, evaluate(arch, HEADERS, exprs, true))).toEqual([]);
  });

  test("the structs the C shim declares have the headers' sizes and offsets", async () => {
    const shim = evaluate(arch, `${await shimSource(arch)}\n#define offsetof __builtin_offsetof`, Object.fromEntries(Object.entries(LAYOUT).map(([k, [ours]]) => [k, ours])));
    const headers = evaluate(arch, HEADERS, Object.fromEntries(Object.entries(LAYOUT).map(([k, [, theirs]]) => [k, theirs])));
    expect(differences(Object.fromEntries(shim), headers)).toEqual([]);
  });

  test("signals, errno values, clone flags, capabilities, terminal ioctls and struct termios (TypeScript's tables)", () => {
    const ours: Record<string, number> = {};
    for (const [name, n] of Object.entries(SIGNALS)) ours[`SIG${name}`] = n;
    for (let n = 1; n < 134; n++) if (!errnoName(n).startsWith("errno ")) ours[errnoName(n)] = n;
    for (const [name, flag] of Object.entries(CloneFlag)) ours[`CLONE_${name.replace(/^new/, "NEW").toUpperCase()}`] = flag;
    CAPABILITY_NAMES.forEach((name, n) => (ours[name] = n));
    Object.assign(ours, { TCGETS: Termios.TCGETS, TCSETS: Termios.TCSETS, TIOCGWINSZ: Termios.TIOCGWINSZ });
    const exprs = { ...asExprs(Object.keys(ours)), termios_size: "sizeof(struct termios)" };
    expect(Object.keys(ours).length).toBeGreaterThan(100);
    expect(differences({ ...ours, termios_size: Termios.size }, evaluate(arch, HEADERS, exprs))).toEqual([]);
  });
});

test("the flags that differ do differ: x86_64's O_TMPFILE asks an arm64 kernel for O_DIRECT, without O_DIRECTORY", () => {
  const arm64 = evaluate("arm64", HEADERS, asExprs(["O_DIRECT", "O_DIRECTORY"]));
  const withoutTmpfileBit = BigInt(ABIS.x64.O_TMPFILE & ~0o20000000);
  expect(withoutTmpfileBit).toBe(arm64.get("O_DIRECT")!);
  expect(withoutTmpfileBit & arm64.get("O_DIRECTORY")!).toBe(0n);
});
