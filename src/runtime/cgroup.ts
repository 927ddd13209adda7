// An OCI container's cgroup: at linux.cgroupsPath in every hierarchy (v1) or in the one (v2),
// with linux.resources written into it. The limits' files are the ones `cbox run` writes.
import { CboxError } from "../errors.ts";
import { CgroupWriteError, enterCgroups, removeWhenEmpty, selfEntryFiles, writeSettings } from "../linux/cgroups/cgroup.ts";
import { existingCgroups, type CgroupLayout } from "../linux/cgroups/detect.ts";
import { attachDeviceProgram } from "../linux/cgroups/device-bpf.ts";
import { v1DeviceWrites, type DeviceRule } from "../linux/cgroups/devices.ts";
import { cgroupfs, type CgroupFs } from "../linux/cgroups/fs.ts";
import type { OciResources } from "./config.ts";
import { v1ResourceSettings, v2ResourceSettings } from "./resources.ts";

/** Where a container goes when config.json names no cgroupsPath. */
export const DEFAULT_CGROUP_PARENT = "cbox-runtime";

/** The folder under each hierarchy's root: absolute and relative paths alike start at the root. */
export function cgroupRelativePath(cgroupsPath: string | undefined, id: string, systemd: boolean): string {
  if (!cgroupsPath) return `${DEFAULT_CGROUP_PARENT}/${id}`;
  if (systemd) return systemdPath(cgroupsPath);
  const parts = cgroupsPath.split("/").filter(Boolean);
  if (parts.includes("..") || parts.length === 0) throw new CboxError(`linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} must name a cgroup without ".."`);
  return parts.join("/");
}

/**
 * systemd's "slice:prefix:name" as the folders systemd would use: the slice's ancestors (a-b.slice
 * lives in a.slice), then prefix-name.scope. cbox makes them itself, with no scope registered.
 */
export function systemdPath(spec: string): string {
  const parts = spec.split(":");
  if (parts.length !== 3 || !parts[2]) throw new CboxError(`linux.cgroupsPath: ${JSON.stringify(spec)} is not slice:prefix:name (--systemd-cgroup)`);
  const [slice, prefix, name] = parts as [string, string, string];
  const folders: string[] = [];
  if (slice && slice !== "-.slice") {
    if (!slice.endsWith(".slice") || slice.includes("/")) throw new CboxError(`linux.cgroupsPath: ${JSON.stringify(slice)} is not a slice name`);
    const words = slice.slice(0, -".slice".length).split("-");
    for (let i = 1; i <= words.length; i++) folders.push(`${words.slice(0, i).join("-")}.slice`);
  } else {
    folders.push("system.slice");
  }
  const scope = name.endsWith(".slice") ? name : `${prefix ? `${prefix}-` : ""}${name}.scope`;
  return [...folders, scope].join("/");
}

/** Removes a container's cgroup folders; cbox's default parent goes with its last container (one the engine chose is the engine's). */
export function removeRuntimeCgroup(paths: string[], fs: CgroupFs = cgroupfs): void {
  for (const path of paths) {
    removeWhenEmpty(path, fs);
    const parent = path.slice(0, path.lastIndexOf("/"));
    if (!parent.endsWith(`/${DEFAULT_CGROUP_PARENT}`)) continue;
    try {
      fs.rmdir(parent);
    } catch {
      // another container is in it
    }
  }
}

/**
 * The device rules as an allow-list, starting from "deny all" and the defaults (as runc). A deny
 * rule takes its access away from the allowed rules for the same devices, as v1's devices.deny
 * does (so docker's deny of /dev/fuse leaves "mknod any char device" as it is); after "allow
 * all", a deny is refused (an allow-list cannot say it). undefined: no limit.
 */
export function deviceAllowList(rules: OciResources["devices"], defaults: DeviceRule[]): DeviceRule[] | undefined {
  let allowed: DeviceRule[] | undefined = [...defaults];
  for (const [i, r] of (rules ?? []).entries()) {
    const rule: DeviceRule = { type: (r.type ?? "a") as DeviceRule["type"], major: r.major ?? -1, minor: r.minor ?? -1, access: r.access ?? "rwm" };
    const everything = rule.type === "a" && rule.major === -1 && rule.minor === -1 && [..."rwm"].every((c) => rule.access.includes(c));
    if (everything) {
      allowed = r.allow ? undefined : [...defaults];
    } else if (r.allow) {
      allowed?.push(rule);
    } else if (!allowed) {
      throw new CboxError(`config.json: linux.resources.devices[${i}]: a deny rule after "allow all" is not supported yet`);
    } else {
      allowed = allowed.flatMap((a) => {
        if (a.type !== rule.type || a.major !== rule.major || a.minor !== rule.minor) return [a];
        const access = [...a.access].filter((c) => !rule.access.includes(c)).join("");
        return access ? [{ ...a, access }] : [];
      });
    }
  }
  return allowed;
}

export class RuntimeCgroup {
  readonly paths: string[];
  /** v1: the tasks files the container's process writes "0" into itself (see ContainerCgroup.selfEntry). */
  readonly selfEntry: string[] | undefined;

  constructor(
    private readonly layout: CgroupLayout,
    relative: string,
    private readonly resources: OciResources | undefined,
    private readonly devices: DeviceRule[] | undefined,
    private readonly fs: CgroupFs = cgroupfs,
  ) {
    this.paths = layout.version === 1 ? layout.hierarchies.map((h) => `${h.mount}/${relative}`) : layout.version === 2 ? [`${layout.unified}/${relative}`] : [];
    this.selfEntry = selfEntryFiles(this.paths, fs);
  }

  /** Makes the folders (and those above them) and writes the limits; on failure what it made goes. */
  create(): void {
    const made: string[] = [];
    try {
      if (this.layout.version === 1) this.layout.hierarchies.forEach((h, i) => this.makeV1(this.paths[i]!, h.mount, h.controllers, made));
      else if (this.layout.version === 2) this.makeV2(this.paths[0]!, this.layout.unified!, made);
    } catch (err) {
      for (const dir of made.reverse()) this.tryRmdir(dir);
      if (err instanceof CgroupWriteError) throw new CboxError(`${err.flag}: the kernel refused ${err.value} for ${err.file} (${err.code})`);
      throw err;
    }
  }

  enter(pid: number): void {
    enterCgroups(this.paths, pid, this.fs);
  }

  /** Removes the container's folders (not those above, which others may share); what still runs is killed first. */
  remove(): void {
    removeRuntimeCgroup(this.paths, this.fs);
  }

  private makeV1(dir: string, mount: string, controllers: string[], made: string[]): void {
    this.mkdirs(mount, dir, made, (d) => {
      if (controllers.includes("cpuset")) this.inheritCpuset(d);
    });
    const devices = controllers.includes("devices") && this.devices ? v1DeviceWrites(this.devices).map((w) => ({ ...w, flag: "linux.resources.devices" })) : [];
    writeSettings(dir, [...devices, ...v1ResourceSettings(this.resources, controllers, (f) => this.fs.exists(`${dir}/${f}`))], this.fs);
  }

  private makeV2(dir: string, mount: string, made: string[]): void {
    const wanted = ["cpu", "cpuset", "io", "memory", "pids"];
    this.mkdirs(mount, dir, made, () => {}, (parent) => {
      const available = (this.fs.read(`${parent}/cgroup.controllers`) ?? "").split(/\s+/).filter((c) => wanted.includes(c));
      const on = (this.fs.read(`${parent}/cgroup.subtree_control`) ?? "").split(/\s+/);
      const missing = available.filter((c) => !on.includes(c));
      if (missing.length) writeSettings(parent, [{ file: "cgroup.subtree_control", value: missing.map((c) => `+${c}`).join(" "), flag: "linux.cgroupsPath" }], this.fs);
    });
    if (this.devices && process.getuid!() === 0) attachDeviceProgram(dir, this.devices);
    writeSettings(dir, v2ResourceSettings(this.resources, (f) => this.fs.exists(`${dir}/${f}`)), this.fs);
  }

  /** mkdir -p from below mount down to dir; made collects the folders this call created. */
  private mkdirs(mount: string, dir: string, made: string[], readied: (dir: string) => void, beforeChild: (parent: string) => void = () => {}): void {
    let current = mount;
    for (const part of dir.slice(mount.length + 1).split("/")) {
      beforeChild(current);
      current = `${current}/${part}`;
      if (this.fs.mkdir(current)) made.push(current);
      readied(current);
    }
  }

  /** A new v1 cpuset has no CPUs and no memory nodes: no task could enter it. It takes its parent's. */
  private inheritCpuset(dir: string): void {
    const parent = dir.slice(0, dir.lastIndexOf("/"));
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if ((this.fs.read(`${dir}/${file}`) ?? "").trim()) continue;
      writeSettings(dir, [{ file, value: (this.fs.read(`${parent}/${file}`) ?? "").trim(), flag: "linux.cgroupsPath" }], this.fs);
    }
  }

  private tryRmdir(dir: string): void {
    try {
      this.fs.rmdir(dir);
    } catch {
      // not empty: something else uses it
    }
  }
}

/** New limits for a running container, written as at create. */
export function updateResources(layout: CgroupLayout, paths: string[], resources: OciResources, fs: CgroupFs = cgroupfs): void {
  try {
    for (const { path, controllers } of existingCgroups(layout, paths)) {
      const has = (f: string) => fs.exists(`${path}/${f}`);
      writeSettings(path, layout.version === 1 ? v1ResourceSettings(resources, controllers, has) : v2ResourceSettings(resources, has), fs);
    }
  } catch (err) {
    if (err instanceof CgroupWriteError) throw new CboxError(`${err.flag}: the kernel refused ${err.value} for ${err.file} (${err.code})`);
    throw err;
  }
}
