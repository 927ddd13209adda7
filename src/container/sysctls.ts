// --sysctl NAME=VALUE: only the kernel settings a container's own namespaces hold (docker's list),
// so a container never changes the host's.
import { existsSync } from "node:fs";
import { CboxError } from "../errors.ts";

/** The IPC namespace's settings, besides fs.mqueue.*. */
const IPC_SYSCTLS = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];

/** shared: the flag that makes the container share its network or IPC namespace (a setting there would be another's). */
export function parseSysctls(values: string[], shared: { network?: string; ipc?: string }, exists = existsSync): Record<string, string> {
  const sysctls: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    const name = value.slice(0, eq);
    const setting = value.slice(eq + 1);
    if (eq <= 0 || !/^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/.test(name) || /[\n\0]/.test(setting)) {
      throw new CboxError(`--sysctl ${value}: expected NAME=VALUE, such as net.ipv4.ip_forward=1`);
    }
    const ipc = IPC_SYSCTLS.includes(name) || name.startsWith("fs.mqueue.");
    const net = name.startsWith("net.");
    if (!ipc && !net) throw new CboxError(`--sysctl ${name}: not one a container has its own copy of (net.*, fs.mqueue.*, ${IPC_SYSCTLS.join(", ")})`);
    const sharedBy = net ? shared.network : shared.ipc;
    if (sharedBy) throw new CboxError(`--sysctl ${name}: the container shares its ${net ? "network" : "IPC"} namespace (${sharedBy}), so this would change another's setting`);
    // The host's namespaces have the same files, but for interfaces only the container has.
    if (!/^net\.ipv[46]\.(conf|neigh)\./.test(name) && !exists(sysctlFile(name))) throw new CboxError(`--sysctl ${name}: this kernel has no such setting`);
    sysctls[name] = setting;
  }
  return sysctls;
}

/** The file under /proc/sys that holds a setting. */
export function sysctlFile(name: string): string {
  return `/proc/sys/${name.replaceAll(".", "/")}`;
}
