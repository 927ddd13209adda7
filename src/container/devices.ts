// --device HOST[:CONTAINER][:PERMISSIONS]: host device nodes given to a container, docker's way.
// A folder (/dev/snd) gives every node under it. Each is made in the container's /dev (or the
// host's node bound there, in a user namespace) and allowed in its devices cgroup.
import { lstatSync, readdirSync, type BigIntStats } from "node:fs";
import { isAbsolute, join, normalize } from "node:path";
import { CboxError } from "../errors.ts";
import type { DeviceRule } from "../linux/cgroups/devices.ts";
import type { HostDeviceNode } from "../linux/mounts.ts";

/** A host node as the container gets it, and what the container may do with it: r, w, m (mknod). */
export interface DeviceNode extends HostDeviceNode {
  access: string;
}

/** What every container's /dev has already (mounts.ts): a --device there is refused. */
const MADE_ALWAYS = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/console", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"];

export function parseDevices(values: string[], stat: (path: string) => BigIntStats | undefined = lstatOrNothing): DeviceNode[] {
  const nodes = values.flatMap((value) => parseDevice(value, stat));
  const twice = nodes.find((n, i) => nodes.findIndex((m) => m.path === n.path) !== i);
  if (twice) throw new CboxError(`--device: two devices for ${twice.path}`);
  return nodes;
}

function parseDevice(value: string, stat: (path: string) => BigIntStats | undefined): DeviceNode[] {
  const parts = value.split(":");
  const perms = parts.length > 1 && /^[rwm]+$/.test(parts.at(-1)!) ? parts.pop()! : "rwm";
  const [host = "", target = host, extra] = parts;
  const where = `--device ${value}`;
  if (extra !== undefined || host === "") throw new CboxError(`${where}: expected HOST[:CONTAINER][:PERMISSIONS], such as /dev/snd or /dev/ttyUSB0:/dev/modem:rw`);
  if (!isAbsolute(host) || !isAbsolute(target)) throw new CboxError(`${where}: both paths must be absolute`);
  const st = stat(host);
  if (!st) throw new CboxError(`${where}: ${host} does not exist on this host`);
  const inside = normalize(target);
  if (!inside.startsWith("/dev/")) throw new CboxError(`${where}: the container path must be under /dev (give one: ${host}:/dev/NAME)`);
  const taken = MADE_ALWAYS.find((p) => inside === p || inside.startsWith(`${p}/`));
  if (taken) throw new CboxError(`${where}: every container has ${taken} already`);
  if (st.isDirectory()) {
    const nodes = devicesUnder(host, inside, perms, stat);
    if (nodes.length === 0) throw new CboxError(`${where}: ${host} holds no device nodes`);
    return nodes;
  }
  const node = deviceNode(host, inside, perms, st);
  if (!node) throw new CboxError(`${where}: ${host} is not a device node (a character or block device, or a folder of them)`);
  return [node];
}

/** Every node in a host folder and its subfolders (links are not followed, as docker does). */
function devicesUnder(dir: string, inside: string, perms: string, stat: (path: string) => BigIntStats | undefined): DeviceNode[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const st = stat(join(dir, name));
      if (!st) return [];
      if (st.isDirectory()) return devicesUnder(join(dir, name), join(inside, name), perms, stat);
      const node = deviceNode(join(dir, name), join(inside, name), perms, st);
      return node ? [node] : [];
    });
}

function deviceNode(host: string, path: string, access: string, st: BigIntStats): DeviceNode | undefined {
  const type = st.isCharacterDevice() ? "c" : st.isBlockDevice() ? "b" : undefined;
  if (!type) return undefined;
  const rdev = st.rdev;
  // The kernel's encoding of a dev_t (glibc's major() and minor()).
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { host, path, type, major, minor, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), access };
}

function lstatOrNothing(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch {
    return undefined;
  }
}

/** The devices cgroup's rules for them. */
export function deviceRules(nodes: DeviceNode[]): DeviceRule[] {
  return nodes.map((n) => ({ type: n.type, major: n.major, minor: n.minor, access: n.access }));
}
