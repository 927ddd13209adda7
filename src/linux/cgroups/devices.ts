// Which device nodes a container may use: docker's rule, enforced by the kernel (v1's devices
// controller, v2's device eBPF program), so that a node made with mknod for a host disk is
// useless even to root inside.

export type DeviceType = "c" | "b";

export interface DeviceRule {
  /** "a": any type. */
  type: DeviceType | "a";
  /** -1: any. */
  major: number;
  minor: number;
  /** Any of "r", "w", "m" (mknod). */
  access: string;
}

const ANY = -1;
const rwm = "rwm";

/**
 * Everything else is denied. mknod stays allowed (a node is harmless until opened, and images'
 * scripts make them); opening is allowed only for these.
 */
export const ALLOWED_DEVICES: DeviceRule[] = [
  { type: "c", major: ANY, minor: ANY, access: "m" },
  { type: "b", major: ANY, minor: ANY, access: "m" },
  { type: "c", major: 1, minor: 3, access: rwm }, // null
  { type: "c", major: 1, minor: 5, access: rwm }, // zero
  { type: "c", major: 1, minor: 7, access: rwm }, // full
  { type: "c", major: 1, minor: 8, access: rwm }, // random
  { type: "c", major: 1, minor: 9, access: rwm }, // urandom
  { type: "c", major: 5, minor: 0, access: rwm }, // tty
  { type: "c", major: 5, minor: 1, access: rwm }, // console
  { type: "c", major: 5, minor: 2, access: rwm }, // ptmx
  { type: "c", major: 136, minor: ANY, access: rwm }, // pts/*
];

/** A rule as v1's devices.allow and devices.deny take it: "c 1:3 rwm", "b *:* m". */
export function v1DeviceLine(rule: DeviceRule): string {
  const num = (n: number) => (n === ANY ? "*" : String(n));
  return rule.type === "a" ? "a" : `${rule.type} ${num(rule.major)}:${num(rule.minor)} ${rule.access}`;
}

/** v1's writes: deny all, then allow each rule (a new cgroup starts from its parent's list). */
export function v1DeviceWrites(rules: DeviceRule[]): { file: string; value: string }[] {
  return [{ file: "devices.deny", value: "a" }, ...rules.map((r) => ({ file: "devices.allow", value: v1DeviceLine(r) }))];
}
