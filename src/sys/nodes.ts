// Device nodes on the host (for image layers): Node has no mknod, so a shim child makes them.
import { CloneFlag } from "../linux/namespaces.ts";
import type { Op } from "./ops.ts";
import { exitCodeOf, spawnHeld } from "./process.ts";

export interface DeviceNode {
  path: string;
  /** st_mode: S_IFCHR or S_IFBLK (or S_IFIFO) and the permission bits. */
  mode: number;
  major: number;
  minor: number;
}

/** Creates the nodes in order; on failure, the index of the node that failed and its errno. */
export function makeDeviceNodes(nodes: DeviceNode[]): { index: number; errno: number } | null {
  if (nodes.length === 0) return null;
  const plan: Op[] = [
    { op: "umask", ints: [0] },
    ...nodes.map((n): Op => ({ op: "mknod", ints: [n.mode, n.major, n.minor], strs: [n.path] })),
    { op: "exit", ints: [0] },
  ];
  const child = spawnHeld(plan, CloneFlag.vm);
  const failure = child.release();
  const status = child.wait();
  if (failure) return { index: failure.index - 1, errno: failure.errno };
  if (exitCodeOf(status) !== 0) return { index: -1, errno: 0 };
  return null;
}
