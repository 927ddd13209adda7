// Capabilities: which of root's powers the container's process keeps (docker's defaults and
// flags), as the masks the kernel takes.
import { readFileSync } from "node:fs";
import { CboxError } from "../errors.ts";

/** By number, as in linux/capability.h. */
export const CAPABILITY_NAMES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
  "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
] as const;

/** Docker's default set. */
export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];

export interface CapabilityOptions {
  add: string[];
  drop: string[];
  privileged: boolean;
}

/** "sys_admin", "SYS_ADMIN" or "CAP_SYS_ADMIN" -> "CAP_SYS_ADMIN"; "all" -> "ALL". */
export function capabilityName(value: string, flag: string): string {
  const upper = value.trim().toUpperCase();
  if (upper === "ALL") return "ALL";
  const name = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!(CAPABILITY_NAMES as readonly string[]).includes(name)) throw new CboxError(`${flag} ${value}: unknown capability`);
  return name;
}

/**
 * The container's capabilities, in number order, as docker decides them: --privileged gives all
 * (all: those cbox may pass on, a child's bounding set being at most its parent's);
 * --cap-add ALL gives all but the dropped; --cap-drop ALL gives only the added; otherwise the
 * defaults, less the dropped, plus the added (an added one wins over a dropped one).
 */
export function containerCapabilities(opts: CapabilityOptions, all = heldCapabilities()): string[] {
  const add = opts.add.map((c) => capabilityName(c, "--cap-add"));
  const drop = opts.drop.map((c) => capabilityName(c, "--cap-drop"));
  for (const name of add) {
    if (name !== "ALL" && !all.includes(name)) throw new CboxError(`--cap-add ${name}: cbox cannot give it: not in cbox's own bounding set (or not in this kernel)`);
  }
  let caps: string[];
  if (opts.privileged || add.includes("ALL")) caps = opts.privileged ? all : all.filter((c) => !drop.includes(c));
  else if (drop.includes("ALL")) caps = add;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)), ...add];
  return all.filter((c) => caps.includes(c));
}

/** The mask of these capabilities (bit N: capability number N). */
export function capabilityMask(names: string[]): bigint {
  return names.reduce((mask, name) => mask | (1n << BigInt(CAPABILITY_NAMES.indexOf(name as (typeof CAPABILITY_NAMES)[number]))), 0n);
}

/** The capabilities in this process's bounding set: what any process it starts can have at most. */
export function heldCapabilities(): string[] {
  return ownCapabilities("CapBnd");
}

/** Whether this process may use a capability now (its effective set), as in "CAP_SYS_RESOURCE". */
export function hasEffectiveCapability(name: string): boolean {
  return ownCapabilities("CapEff").includes(name);
}

function ownCapabilities(set: "CapBnd" | "CapEff"): string[] {
  const m = new RegExp(`^${set}:\\s*([0-9a-f]+)$`, "m").exec(readFileSync("/proc/self/status", "utf8"));
  const mask = m ? BigInt(`0x${m[1]}`) : 0n;
  return CAPABILITY_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** The highest capability number the running kernel knows (it may know more than cbox names). */
export function hostLastCap(): number {
  try {
    return Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
  } catch {
    return CAPABILITY_NAMES.length - 1;
  }
}
