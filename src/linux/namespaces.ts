// clone(2) namespace flags.
export const CloneFlag = {
  newns: 0x00020000,
  newcgroup: 0x02000000,
  newuts: 0x04000000,
  newipc: 0x08000000,
  newuser: 0x10000000,
  newpid: 0x20000000,
  newnet: 0x40000000,
} as const;

/** Every namespace a container gets; a user namespace is added when asked (always when not root). */
export function containerCloneFlags(userNamespace: boolean): number {
  const all =
    CloneFlag.newns | CloneFlag.newcgroup | CloneFlag.newuts | CloneFlag.newipc | CloneFlag.newpid | CloneFlag.newnet;
  return userNamespace ? all | CloneFlag.newuser : all;
}
