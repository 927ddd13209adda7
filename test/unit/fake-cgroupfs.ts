// A cgroupfs-shaped folder tree in a temp dir, for the cgroup drivers' unit tests. Like the
// kernel: mkdir fills a cgroup with the control files of its controllers, writes go only into
// files that exist, subtree_control takes "+c" and passes c down, cgroup.procs collects pids,
// rmdir refuses a cgroup with tasks or children. Every change is logged in order.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { CgroupFs } from "../../src/linux/cgroups/fs.ts";

/** Control files a cgroup gets per controller (a few of the kernel's, enough for the drivers). */
const V2_FILES: Record<string, string[]> = {
  "": ["cgroup.procs", "cgroup.controllers", "cgroup.subtree_control", "cgroup.events", "cgroup.freeze"],
  memory: ["memory.max", "memory.swap.max", "memory.events"],
  cpu: ["cpu.max", "cpu.weight", "cpu.stat"],
  cpuset: ["cpuset.cpus", "cpuset.mems"],
  pids: ["pids.max", "pids.current"],
};
const V1_FILES: Record<string, string[]> = {
  "": ["cgroup.procs", "tasks"],
  memory: ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.oom_control"],
  cpu: ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"],
  cpuacct: ["cpuacct.usage"],
  devices: ["devices.allow", "devices.deny", "devices.list"],
  cpuset: ["cpuset.cpus", "cpuset.mems"],
  pids: ["pids.max", "pids.current"],
  freezer: ["freezer.state"],
  blkio: ["blkio.throttle.io_service_bytes"],
};

function errno(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

export class FakeCgroupfs implements CgroupFs {
  readonly log: string[] = [];
  /** Files this kernel does not have (e.g. no swap accounting). */
  missing = new Set<string>();
  /** file name -> errno code: writes into it fail, as the kernel refusing a value. */
  refuse = new Map<string, string>();
  /** A controller the kernel will not pass down (EINVAL for a subtree_control write that asks for it). */
  unavailable?: string;

  /** v1: one hierarchy per entry of controllers, at root/<names joined by ","> */
  constructor(
    readonly root: string,
    readonly version: 1 | 2,
    controllers: string[][],
  ) {
    if (version === 2) {
      mkdirSync(root, { recursive: true });
      this.populate(root, controllers.flat());
      writeFileSync(join(root, "cgroup.controllers"), controllers.flat().join(" "));
    } else {
      for (const set of controllers) {
        const dir = join(root, set.join(","));
        mkdirSync(dir, { recursive: true });
        this.populate(dir, set);
        if (set.includes("cpuset")) {
          writeFileSync(join(dir, "cpuset.cpus"), "0-3\n");
          writeFileSync(join(dir, "cpuset.mems"), "0\n");
        }
      }
    }
  }

  /** A v1 hierarchy's mount point in this tree. */
  hierarchy(controllers: string[]): string {
    return join(this.root, controllers.join(","));
  }

  private populate(dir: string, controllers: string[]): void {
    const files = this.version === 2 ? V2_FILES : V1_FILES;
    for (const c of ["", ...controllers]) {
      for (const f of files[c] ?? []) if (!this.missing.has(f)) writeFileSync(join(dir, f), "");
    }
  }

  private controllersOf(dir: string): string[] {
    if (this.version === 1) {
      const top = relative(this.root, dir).split("/")[0]!;
      return top.split(",");
    }
    return readFileSync(join(dirname(dir), "cgroup.subtree_control"), "utf8").split(/\s+/).filter(Boolean);
  }

  mkdir(path: string): boolean {
    if (existsSync(path)) return false;
    if (!existsSync(dirname(path))) throw errno("ENOENT", path);
    mkdirSync(path);
    const controllers = this.controllersOf(path);
    this.populate(path, controllers);
    if (this.version === 2) writeFileSync(join(path, "cgroup.controllers"), controllers.join(" "));
    this.log.push(`mkdir ${this.short(path)}`);
    return true;
  }

  rmdir(path: string): void {
    if (!existsSync(path)) throw errno("ENOENT", path);
    if (readdirSync(path).some((n) => statSync(join(path, n)).isDirectory())) throw errno("EBUSY", path);
    if (readFileSync(join(path, "cgroup.procs"), "utf8").trim()) throw errno("EBUSY", path);
    rmSync(path, { recursive: true });
    this.log.push(`rmdir ${this.short(path)}`);
  }

  read(path: string): string | undefined {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  }

  write(path: string, value: string): void {
    if (!existsSync(path)) throw errno("ENOENT", path);
    const name = path.slice(path.lastIndexOf("/") + 1);
    const refused = this.refuse.get(name);
    if (refused) throw errno(refused, path);
    if (name === "cgroup.subtree_control" && this.unavailable && value.split(" ").includes(`+${this.unavailable}`)) throw errno("EINVAL", path);
    if (name === "cgroup.procs") appendFileSync(path, `${value}\n`);
    else if (name === "cgroup.subtree_control") {
      const on = new Set(readFileSync(path, "utf8").split(/\s+/).filter(Boolean));
      const offered = readFileSync(join(dirname(path), "cgroup.controllers"), "utf8").split(/\s+/);
      for (const change of value.split(" ")) {
        if (!offered.includes(change.slice(1))) throw errno("ENOENT", path);
        if (change.startsWith("+")) on.add(change.slice(1));
        else on.delete(change.slice(1));
      }
      writeFileSync(path, [...on].join(" "));
    } else writeFileSync(path, value);
    this.log.push(`write ${this.short(path)} ${value}`);
  }

  exists(path: string): boolean {
    return existsSync(path);
  }

  /** The value a control file holds. */
  value(path: string): string {
    return readFileSync(join(this.root, path), "utf8").trim();
  }

  private short(path: string): string {
    return relative(this.root, path);
  }
}
