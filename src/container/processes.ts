// The host pids of a running container's processes, for top and stats.
import { cgroupProcs } from "../linux/cgroups/cgroup.ts";
import { cgroupfs } from "../linux/cgroups/fs.ts";
import { pidNamespaceMembers } from "../linux/proc.ts";
import type { ContainerState } from "./store.ts";

/** Its cgroup's processes (exec'd ones included); without a cgroup of its own, its PID namespace's. */
export function containerProcesses(state: ContainerState): number[] {
  const cgroups = state.cgroups ?? [];
  if (cgroups.length) return cgroupProcs(cgroups[0]!, cgroupfs);
  return state.pid === undefined ? [] : pidNamespaceMembers(state.pid);
}
