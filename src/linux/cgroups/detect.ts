// Which cgroup layout this host has, read from the mount table: never assumed.
import { accessSync, constants } from "node:fs";
import { cgroupfs } from "./fs.ts";
import type { Hierarchy } from "./v1.ts";

export interface CgroupLayout {
  /**
   * 2: only cgroup2 is mounted (most current servers); 1: v1 hierarchies hold the controllers
   * (hybrid when an empty cgroup2 is mounted too, as on this project's machines); 0: none.
   */
  version: 0 | 1 | 2;
  /** v1 hierarchies with at least one controller (named ones such as name=systemd left out). */
  hierarchies: Hierarchy[];
  /** Where cgroup2 is mounted, if it is. */
  unified?: string;
}

/** A created container's cgroups again, with their v1 controllers (for update, pause and resume); v2: none listed. */
export function existingCgroups(layout: CgroupLayout, paths: string[]): { path: string; controllers: string[] }[] {
  if (layout.version !== 1) return paths.map((path) => ({ path, controllers: [] }));
  return paths.map((path) => ({ path, controllers: layout.hierarchies.find((h) => path.startsWith(`${h.mount}/`))?.controllers ?? [] }));
}

/** Options of a v1 hierarchy's mount that name no controller (systemd mounts name=systemd with xattr). */
const NOT_CONTROLLERS = new Set(["rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods", "all", "none"]);

/** From /proc/self/mountinfo text. Only mounts of a hierarchy's root are used. */
export function parseLayout(mountinfo: string): CgroupLayout {
  const hierarchies: Hierarchy[] = [];
  let unified: string | undefined;
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 0 || fields[3] !== "/") continue;
    const mount = unescapeMountPath(fields[4]!);
    const type = fields[dash + 1];
    if (type === "cgroup2") unified ??= mount;
    if (type !== "cgroup") continue;
    const controllers = controllersIn(fields[dash + 3] ?? "");
    if (controllers.length && !hierarchies.some((h) => h.controllers.join() === controllers.join())) {
      hierarchies.push({ mount, controllers });
    }
  }
  const version = hierarchies.length ? 1 : unified ? 2 : 0;
  return { version, hierarchies, unified };
}

/** The controllers a v1 hierarchy's mount options name ("rw,nosuid,cpu,cpuacct" -> cpu, cpuacct). */
export function controllersIn(options: string): string[] {
  return options.split(",").filter((o) => !NOT_CONTROLLERS.has(o) && !o.includes("="));
}

/** Mount points in mountinfo escape space, tab, newline and backslash as \ooo. */
export function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** This process's cgroup2 path ("/user.slice/..."), from /proc/self/cgroup text. */
export function unifiedPath(procCgroup: string): string | undefined {
  return /^0::(\/.*)$/m.exec(procCgroup)?.[1];
}

/**
 * The cgroup an ordinary user may make cgroups under and move processes within: the highest
 * ancestor of their own cgroup (or itself) whose folder and control files they may write,
 * as systemd delegates user@UID.service. A folder with processes in it and no controllers
 * passed down cannot pass any down, so it does not count.
 */
export function delegatedCgroup(mount: string, own: string, probe = hostProbe): string | undefined {
  const parts = own.split("/").filter(Boolean);
  for (let n = 1; n <= parts.length; n++) {
    const dir = `${mount}/${parts.slice(0, n).join("/")}`;
    if (!probe.writable(dir) || !probe.writable(`${dir}/cgroup.procs`) || !probe.writable(`${dir}/cgroup.subtree_control`)) continue;
    const passesDown = (probe.read(`${dir}/cgroup.subtree_control`) ?? "").trim() !== "";
    const empty = (probe.read(`${dir}/cgroup.procs`) ?? "").trim() === "";
    if (passesDown || empty) return dir;
  }
  return undefined;
}

export interface Probe {
  writable(path: string): boolean;
  read(path: string): string | undefined;
}

const hostProbe: Probe = {
  writable(path) {
    try {
      accessSync(path, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
  read: cgroupfs.read,
};
