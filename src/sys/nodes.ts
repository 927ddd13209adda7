// Device nodes and extended attributes on the host (for image layers and container files): Node
// has neither mknod nor setxattr, so a shim child makes them; getxattr is one call into the shim.
import { CloneFlag } from "../linux/namespaces.ts";
import type { Op } from "./ops.ts";
import { exitCodeOf, spawnHeld } from "./process.ts";
import { extraShim } from "./shim.ts";

export interface DeviceNode {
  path: string;
  /** st_mode: S_IFCHR or S_IFBLK (or S_IFIFO) and the permission bits. */
  mode: number;
  major: number;
  minor: number;
}

export interface Xattr {
  path: string;
  name: string;
  value: string;
}

/** Creates the nodes in order; on failure, the index of the node that failed and its errno. */
export function makeDeviceNodes(nodes: DeviceNode[]): { index: number; errno: number } | null {
  return runFileOps(nodes.map((n): Op => ({ op: "mknod", ints: [n.mode, n.major, n.minor], strs: [n.path] })));
}

/** Sets each attribute (on the path itself, never through a symlink); on failure, which and why. */
export function setXattrs(attrs: Xattr[]): { index: number; errno: number } | null {
  return runFileOps(attrs.map((a): Op => ({ op: "setxattr", strs: [a.path, a.name, a.value] })));
}

function runFileOps(ops: Op[]): { index: number; errno: number } | null {
  if (ops.length === 0) return null;
  const child = spawnHeld([{ op: "umask", ints: [0] }, ...ops, { op: "exit", ints: [0] }], CloneFlag.vm);
  const failure = child.release();
  const status = child.wait();
  if (failure) return { index: failure.index - 1, errno: failure.errno };
  if (exitCodeOf(status) !== 0) return { index: -1, errno: 0 };
  return null;
}

const cstr = (s: string) => Buffer.from(`${s}\0`);

/** The attribute's value on the path itself (never through a symlink), or undefined when it has none or it cannot be read. */
export function getXattr(path: string, name: string): string | undefined {
  const buf = new Uint8Array(256);
  const n = extraShim().cbox_lgetxattr(cstr(path), cstr(name), buf, buf.length);
  if (n < 0) return undefined; // ENODATA (none), or not readable to us
  return Buffer.from(buf.subarray(0, n)).toString("utf8");
}
