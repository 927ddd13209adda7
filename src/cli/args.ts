// Flag fragments shared by commands, and the parsed shape commands receive.
import type { ResourceOptions } from "../container/resources.ts";
import type { FlagDefs } from "./flags.ts";

export const rootFlag = {
  root: { type: "string", description: "Storage root (default /var/lib/cbox, or ~/.local/share/cbox rootless; env CBOX_ROOT)" },
} satisfies FlagDefs;

type Value<D> = D extends { multiple: true } ? string[] : D extends { type: "boolean" } ? boolean : string;

/** What a command's run() gets: its flags by name, and the operands in `_`. */
export type CommandArgs<T extends FlagDefs> = { [K in keyof T]?: Value<T[K]> } & { _: string[] };

export const pullFlags = {
  arch: { type: "string", description: "Alpine image architecture (default: this machine's, e.g. x86_64, aarch64)" },
  mirror: { type: "string", description: "Alpine mirror (env CBOX_ALPINE_MIRROR; default the Alpine CDN)" },
  platform: { type: "string", description: "Registry image platform: OS/ARCH[/VARIANT] (default: this machine's, e.g. linux/amd64)" },
  "tls-verify": { type: "boolean", description: "Check registries' TLS certificates (default true; --tls-verify=false: also plain HTTP)" },
} satisfies FlagDefs;

/** What pulling needs from the flags of pull, run and create. */
export function pullOptionsOf(a: CommandArgs<typeof pullFlags>): { arch?: string; mirror?: string; platform?: string; tlsVerify?: boolean } {
  return { arch: a.arch, mirror: a.mirror, platform: a.platform, tlsVerify: a["tls-verify"] };
}

/** The limits of run and update. */
export const resourceFlags = {
  memory: { type: "string", alias: "m", description: "Memory limit: 64m, 1g or bytes (the container is killed beyond it)" },
  "memory-swap": { type: "string", description: "Memory plus swap limit (default: twice --memory; -1: swap not limited)" },
  "memory-reservation": { type: "string", description: "Memory the kernel tries to leave the container when the host is short (a soft limit)" },
  cpus: { type: "string", description: "CPU time, in CPUs: 0.5 is half of one CPU" },
  "cpu-period": { type: "string", description: "CPU period in microseconds for --cpu-quota (default 100000)" },
  "cpu-quota": { type: "string", description: "CPU time in microseconds per --cpu-period (-1: no limit)" },
  "cpu-shares": { type: "string", alias: "c", description: "CPU weight relative to other containers (default 1024)" },
  "cpuset-cpus": { type: "string", description: "CPUs the container may run on: 0-1, 0,2" },
  "pids-limit": { type: "string", description: "Most processes and threads at once (-1: no limit)" },
} satisfies FlagDefs;

export function resourceOptionsOf(a: CommandArgs<typeof resourceFlags>): ResourceOptions {
  return {
    memory: a.memory,
    memorySwap: a["memory-swap"],
    memoryReservation: a["memory-reservation"],
    cpus: a.cpus,
    cpuPeriod: a["cpu-period"],
    cpuQuota: a["cpu-quota"],
    cpuShares: a["cpu-shares"],
    cpusetCpus: a["cpuset-cpus"],
    pidsLimit: a["pids-limit"],
  };
}
