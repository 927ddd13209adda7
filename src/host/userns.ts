// Whether this caller may make user namespaces: the kernel's limit, Debian's and Ubuntu's switches,
// and what happened when cbox made one (the overlay probe's clone).
import { missing, neededByUsers, ok, type Caller, type Check } from "./check.ts";
import type { HostFiles } from "./files.ts";

export interface UsernsFacts {
  /** user.max_user_namespaces; undefined when the file is missing (a kernel without them). */
  max?: number;
  /** kernel.unprivileged_userns_clone: only Debian's and Ubuntu's older kernels have it. */
  unprivilegedClone?: number;
  /** kernel.apparmor_restrict_unprivileged_userns: Ubuntu 23.10 and later. */
  apparmorRestrict?: number;
  /** Making one for the overlay probe: true, or why clone(2) failed; undefined when not tried. */
  created?: true | string;
  /** cbox runs in a chroot (its / is not PID 1's): the kernel refuses user namespaces there. */
  chrooted?: boolean;
}

function sysctl(files: HostFiles, path: string): number | undefined {
  const text = files.read(path)?.trim();
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

export function readUserns(files: HostFiles): UsernsFacts {
  return {
    max: sysctl(files, "/proc/sys/user/max_user_namespaces"),
    unprivilegedClone: sysctl(files, "/proc/sys/kernel/unprivileged_userns_clone"),
    apparmorRestrict: sysctl(files, "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
    chrooted: chrooted(files),
  };
}

/** Whether / is another folder than PID 1's root; undefined when /proc/1/root cannot be read (not root). */
function chrooted(files: HostFiles): boolean | undefined {
  const own = files.stat("/");
  const init = files.stat("/proc/1/root/");
  if (!own || !init) return undefined;
  return own.dev !== init.dev || own.ino !== init.ino;
}

const persist = "(and in a file of /etc/sysctl.d/ to keep it)";

export function usernsChecks(u: UsernsFacts, caller: Caller): Check[] {
  const checks = [usernsCheck(u, caller)];
  if (u.apparmorRestrict !== undefined) checks.push(apparmorCheck(u.apparmorRestrict, caller));
  return checks;
}

function usernsCheck(u: UsernsFacts, caller: Caller): Check {
  const name = "user namespaces";
  const without = caller.root ? "--userns=private cannot run" : "containers cannot run";
  if (u.max === undefined) return neededByUsers(caller, name, `the kernel has none (no /proc/sys/user/max_user_namespaces): ${without}`, "a kernel built with CONFIG_USER_NS");
  if (u.max === 0) return neededByUsers(caller, name, `user.max_user_namespaces=0: the kernel allows none, so ${without}`, `sysctl -w user.max_user_namespaces=15000 ${persist}`);
  if (!caller.root && u.unprivilegedClone === 0) {
    return missing(name, "kernel.unprivileged_userns_clone=0: only root may make them, so containers cannot run", `sysctl -w kernel.unprivileged_userns_clone=1 ${persist}, or run cbox as root`);
  }
  const settings = [`max_user_namespaces=${u.max}`, ...(u.unprivilegedClone === undefined ? [] : [`unprivileged_userns_clone=${u.unprivilegedClone}`])].join(", ");
  if (typeof u.created === "string" && u.chrooted) {
    return neededByUsers(caller, name, `${settings}, but making one failed: ${u.created}: cbox runs in a chroot, where the kernel allows none, so ${without}`, "run cbox outside the chroot (or in a container with a mount namespace of its own)");
  }
  if (typeof u.created === "string") {
    return neededByUsers(caller, name, `${settings}, but making one failed: ${u.created}, so ${without}`, "see the lines above and below; a security module (AppArmor, SELinux) or a container around cbox may forbid them");
  }
  return ok(name, u.created ? `${settings}; made one` : settings);
}

function apparmorCheck(restrict: number, caller: Caller): Check {
  const name = "apparmor userns";
  const setting = `kernel.apparmor_restrict_unprivileged_userns=${restrict}`;
  if (restrict === 0) return ok(name, setting);
  if (caller.root) return ok(name, `${setting} (does not apply to root)`);
  return missing(
    name,
    `${setting}: AppArmor takes every capability away in an ordinary user's new user namespace, so containers cannot mount their root`,
    `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 ${persist}, or an AppArmor profile for cbox's path that allows userns (see README, cbox info)`,
  );
}
