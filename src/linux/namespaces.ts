// clone(2) flags: the namespaces, and CLONE_VM; joining another process's namespaces.
import { closeSync, openSync, statSync } from "node:fs";
import { extraShim } from "../sys/shim.ts";
export const CloneFlag = {
  /** Share cbox's memory until execve: saves copying Bun's page tables (~2.5 ms a start). */
  vm: 0x00000100,
  newns: 0x00020000,
  newcgroup: 0x02000000,
  newuts: 0x04000000,
  newipc: 0x08000000,
  newuser: 0x10000000,
  newpid: 0x20000000,
  newnet: 0x40000000,
} as const;

/** The namespaces a container shares (the host's, or another container's) instead of getting its own. */
export interface SharedAtClone {
  net?: boolean;
  pid?: boolean;
  ipc?: boolean;
  uts?: boolean;
}

/**
 * Every namespace a container gets at clone but those it shares; a user namespace is added when
 * asked (always when not root). The cgroup namespace comes later: the child unshares it once it
 * is in its cgroup. The first process shares cbox's memory unless it stays as an init that never execs.
 */
export function containerCloneFlags(userNamespace: boolean, init: boolean, shared: SharedAtClone = {}): number {
  const own = (share: boolean | undefined, flag: number) => (share ? 0 : flag);
  return (
    CloneFlag.newns |
    own(shared.uts, CloneFlag.newuts) |
    own(shared.ipc, CloneFlag.newipc) |
    own(shared.pid, CloneFlag.newpid) |
    own(shared.net, CloneFlag.newnet) |
    (userNamespace ? CloneFlag.newuser : 0) |
    (init ? 0 : CloneFlag.vm)
  );
}

/**
 * Runs clone with this thread's next children born in the PID namespace open at fd (a process
 * cannot move into one itself), then returns to cbox's own for the rest.
 */
export function withChildrenInPidNamespace<T>(fd: number, clone: () => T, fail: (errno: number) => Error): T {
  const own = openSync("/proc/self/ns/pid", "r");
  try {
    const joined = extraShim().cbox_setns(fd, CloneFlag.newpid);
    if (joined < 0) throw fail(-joined);
    try {
      return clone();
    } finally {
      const back = extraShim().cbox_setns(own, CloneFlag.newpid);
      if (back < 0) throw new Error(`cannot return to cbox's pid namespace: errno ${-back}`);
    }
  } finally {
    closeSync(own);
  }
}

/** A namespace to join with setns(2): an open /proc/PID/ns file and its type (a CLONE_NEW* flag). */
export interface NamespaceFd {
  fd: number;
  type: number;
}

/**
 * The order setns needs: the user namespace first (joining it gives the rights the others ask
 * for), the mount namespace last (joining it moves the root).
 */
const JOIN_ORDER: [string, number][] = [
  ["user", CloneFlag.newuser],
  ["ipc", CloneFlag.newipc],
  ["uts", CloneFlag.newuts],
  ["net", CloneFlag.newnet],
  ["pid", CloneFlag.newpid],
  ["cgroup", CloneFlag.newcgroup],
  ["mnt", CloneFlag.newns],
];

/** Opens process pid's namespaces that differ from cbox's own, in joining order. */
export function openNamespaces(pid: number): NamespaceFd[] {
  const opened: NamespaceFd[] = [];
  try {
    for (const [name, type] of JOIN_ORDER) {
      const theirs = statSync(`/proc/${pid}/ns/${name}`);
      const ours = statSync(`/proc/self/ns/${name}`);
      if (theirs.ino === ours.ino && theirs.dev === ours.dev) continue;
      opened.push({ fd: openSync(`/proc/${pid}/ns/${name}`, "r"), type });
    }
  } catch (err) {
    closeNamespaces(opened);
    throw err;
  }
  return opened;
}

export function closeNamespaces(namespaces: NamespaceFd[]): void {
  for (const ns of namespaces) closeSync(ns.fd);
}
