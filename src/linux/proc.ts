// Facts about host processes, read from /proc.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** The start time of a process (clock ticks since boot), to tell it from a later one with its pid. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** The process that had startTime still runs: not gone, not a zombie waiting for its parent to reap it. */
export function isSameProcess(pid: number, startTime: string): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[19] === startTime && fields[0] !== "Z" && fields[0] !== "X";
}

/** The pids whose parent is pid (from every /proc/N/stat: the task children files need ptrace rights). */
export function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((n) => statFields(n)?.[1] === String(pid));
}

/** The pids in the PID namespace of pid (the namespace it is PID 1 of, for a container's). */
export function pidNamespaceMembers(pid: number): number[] {
  const ns = (n: number | string) => {
    try {
      return readlinkSync(`/proc/${n}/ns/pid`);
    } catch {
      return undefined; // gone, or not ours to look at
    }
  };
  const own = ns(pid);
  if (own === undefined) return [];
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name) && ns(name) === own)
    .map(Number);
}

/** /proc/PID/stat from field 3 (state) to field 22 (starttime): what cbox reads of it. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Field 2 (comm) may hold spaces and parentheses: count fields from the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ", 20);
  } catch {
    return undefined;
  }
}
