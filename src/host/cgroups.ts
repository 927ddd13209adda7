// Cgroups: the layout (v1, v2, hybrid, none), the controllers root's containers can use, and for an
// ordinary user the cgroup systemd delegated to them and what it passes down.
import { delegatedCgroup, parseLayout, unifiedPath, type CgroupLayout } from "../linux/cgroups/detect.ts";
import { limitsSet } from "../linux/cgroups/limits.ts";
import { missing, ok, warn, type Caller, type Check } from "./check.ts";
import { W_OK, type HostFiles } from "./files.ts";

export interface CgroupFacts {
  layout: CgroupLayout;
  /** Root on v2: the root cgroup's cgroup.controllers. */
  rootControllers?: string[];
  /** A user on v2: their cgroup (/proc/self/cgroup's 0:: line). */
  own?: string;
  /** A user on v2: the cgroup delegated to them and its cgroup.controllers. */
  delegated?: { dir: string; controllers: string[] };
}

const words = (text: string | undefined) => (text ?? "").split(/\s+/).filter(Boolean);

export function readCgroups(files: HostFiles, caller: Caller): CgroupFacts {
  const layout = parseLayout(files.read("/proc/self/mountinfo") ?? "");
  if (layout.version !== 2) return { layout };
  const mount = layout.unified!;
  if (caller.root) return { layout, rootControllers: words(files.read(`${mount}/cgroup.controllers`)) };
  const own = unifiedPath(files.read("/proc/self/cgroup") ?? "");
  if (!own) return { layout };
  // delegatedCgroup builds paths from the mount: give it the prefixed one and take the prefix off.
  const at = (path: string) => path.slice(files.prefix.length);
  const dir = delegatedCgroup(`${files.prefix}${mount}`, own, { writable: (p) => files.can(at(p), W_OK), read: (p) => files.read(at(p)) });
  if (!dir) return { layout, own };
  return { layout, own, delegated: { dir: at(dir), controllers: words(files.read(`${at(dir)}/cgroup.controllers`)) } };
}

/** "v2", "v1", "hybrid" (v1 controllers with a cgroup2 beside them: cbox uses v1) or "none". */
export function layoutName(layout: CgroupLayout): "v2" | "v1" | "hybrid" | "none" {
  if (layout.version === 2) return "v2";
  if (layout.version === 1) return layout.unified ? "hybrid" : "v1";
  return "none";
}

/** The controllers cbox's limit flags need, each with the flags that need it. */
const FLAGS_OF = limitsSet({ memory: 1, memorySwap: 1, memoryReservation: 1, cpuQuota: 1, cpuPeriod: 1, cpuShares: 1, cpusetCpus: "0", pidsLimit: 1 }).reduce<Record<string, string[]>>((acc, { controller, flag }) => {
  acc[controller] = [...new Set([...(acc[controller] ?? []), flag])];
  return acc;
}, {});
const LIMIT_CONTROLLERS = Object.keys(FLAGS_OF);

/** "no cpuset (--cpuset-cpus is refused)" for the limit controllers absent from have. */
function absent(have: string[]): string | undefined {
  const lost = LIMIT_CONTROLLERS.filter((c) => !have.includes(c));
  if (!lost.length) return undefined;
  return `no ${lost.join(", ")} (${lost.flatMap((c) => FLAGS_OF[c]!).join(", ")} refused)`;
}

export function cgroupChecks(c: CgroupFacts, caller: Caller): Check[] {
  const checks = [layoutCheck(c, caller)];
  if (!caller.root && c.layout.version !== 0) checks.push(delegationCheck(c));
  return checks;
}

function layoutCheck(c: CgroupFacts, caller: Caller): Check {
  const name = "cgroups";
  const { layout } = c;
  if (layout.version === 0) return missing(name, "none mounted: limit flags are refused", "mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)");
  const where =
    layout.version === 2
      ? `v2 at ${layout.unified}`
      : `${layoutName(layout)}: v1 controllers under ${commonParent(layout.hierarchies.map((h) => h.mount))}${layout.unified ? `, a cgroup2 at ${layout.unified} (cbox uses v1)` : ""}`;
  if (!caller.root) return ok(name, where);
  const have = layout.version === 2 ? (c.rootControllers ?? []) : [...new Set(layout.hierarchies.flatMap((h) => h.controllers))];
  const detail = `${where}; controllers: ${have.join(" ") || "none"}`;
  if (layout.version === 1 && !have.includes("devices")) {
    return missing(name, `${detail}; no devices controller, so containers cannot start without --privileged`, "mount the devices controller (mount -t cgroup -o devices cgroup /sys/fs/cgroup/devices), or use cgroup v2");
  }
  const lost = absent(have);
  if (lost) return warn(name, `${detail}; ${lost}`, layout.version === 2 ? "a kernel built with them, and none of them held by a v1 hierarchy" : "mount the missing v1 controllers, or use cgroup v2");
  return ok(name, detail);
}

function delegationCheck(c: CgroupFacts): Check {
  const name = "cgroup delegation";
  const scope = "systemd-run --user --scope -p Delegate=yes cbox run ...";
  if (c.layout.version === 1) {
    return missing(name, "cgroup v1: an ordinary user's containers get no limits (limit flags are refused)", "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2, which systemd can delegate), or run as root");
  }
  if (!c.own) return missing(name, "cbox cannot find your cgroup (no 0:: line in /proc/self/cgroup): containers run without limits", `run cbox in a delegated scope: ${scope}`);
  if (!c.delegated) {
    return missing(name, `your cgroup ${c.own} is not delegated to you: containers run without limits`, `run cbox in a delegated scope: ${scope}`);
  }
  const { dir, controllers } = c.delegated;
  const detail = `${dir}: ${controllers.join(" ") || "no controllers"}`;
  const lost = absent(controllers);
  if (lost) {
    return warn(
      name,
      `${detail}; ${lost}`,
      "as root: mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload, then log in again",
    );
  }
  return ok(name, detail);
}

/** The folder the v1 hierarchies share: /sys/fs/cgroup. */
function commonParent(mounts: string[]): string {
  const parents = [...new Set(mounts.map((m) => m.slice(0, m.lastIndexOf("/")) || "/"))];
  return parents.length === 1 ? parents[0]! : mounts.join(", ");
}
