// clone(2) flags: the namespaces, and CLONE_VM.
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

/**
 * Every namespace a container gets at clone; a user namespace is added when asked (always when
 * not root). The cgroup namespace comes later: the child unshares it once it is in its cgroup.
 * The first process shares cbox's memory unless it stays as an init that never execs.
 */
export function containerCloneFlags(userNamespace: boolean, init: boolean): number {
  const all =
    CloneFlag.newns | CloneFlag.newuts | CloneFlag.newipc | CloneFlag.newpid | CloneFlag.newnet;
  return all | (userNamespace ? CloneFlag.newuser : 0) | (init ? 0 : CloneFlag.vm);
}
