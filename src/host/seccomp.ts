// seccomp: every container gets cbox's filter (SECCOMP_MODE_FILTER) unless seccomp=unconfined.
import { missing, ok, type Check } from "./check.ts";
import type { HostFiles } from "./files.ts";

export interface SeccompFacts {
  /** The Seccomp: field of /proc/self/status (0, 1, 2); undefined: a kernel without seccomp. */
  mode?: number;
  /** /proc/sys/kernel/seccomp/actions_avail; undefined: no filter mode. */
  actions?: string[];
}

/** The filter's answers cbox's default profile uses: allow, and errno for EPERM and ENOSYS. */
const NEEDED = ["allow", "errno"];

export function readSeccomp(files: HostFiles): SeccompFacts {
  const mode = /^Seccomp:\s*(\d+)/m.exec(files.read("/proc/self/status") ?? "")?.[1];
  const actions = files.read("/proc/sys/kernel/seccomp/actions_avail")?.trim().split(/\s+/).filter(Boolean);
  return { ...(mode === undefined ? {} : { mode: Number(mode) }), ...(actions ? { actions } : {}) };
}

export function seccompCheck(s: SeccompFacts): Check {
  const name = "seccomp";
  const fix = "a kernel built with CONFIG_SECCOMP_FILTER, or run containers with --security-opt seccomp=unconfined";
  if (s.mode === undefined) return missing(name, "the kernel has none (no Seccomp: in /proc/self/status): containers cannot get their filter", fix);
  const lacking = NEEDED.filter((a) => !s.actions?.includes(a));
  if (!s.actions || lacking.length) {
    return missing(name, `no filter mode${s.actions ? ` with ${lacking.join(", ")}` : ""} (/proc/sys/kernel/seccomp/actions_avail): containers cannot get their filter`, fix);
  }
  const self = s.mode === 2 ? "; cbox itself runs under a filter (a container runtime's?), which containers inherit" : "";
  return ok(name, `filters with ${s.actions.join(" ")}${self}`);
}
