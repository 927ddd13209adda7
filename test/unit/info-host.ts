// A folder laid out as a host's /proc, /sys and /etc, for cbox info's readers; and callers.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Caller } from "../../src/host/check.ts";
import { hostFiles, type FakeHost, type HostFiles } from "../../src/host/files.ts";

export const root: Caller = { uid: 0, gid: 0, name: "root", root: true };
export const alice: Caller = { uid: 1000, gid: 1000, name: "alice", root: false };

export class FakeHostDir {
  readonly dir = mkdtempSync(join(tmpdir(), "cbox-info-host-"));

  /** Writes files (path -> text) under the folder; a path ending in / is a folder. */
  with(files: Record<string, string>, mode?: number): this {
    for (const [path, text] of Object.entries(files)) {
      const at = join(this.dir, path);
      if (path.endsWith("/")) {
        mkdirSync(at, { recursive: true });
        continue;
      }
      mkdirSync(dirname(at), { recursive: true });
      writeFileSync(at, text);
      if (mode !== undefined) chmodSync(at, mode);
    }
    return this;
  }

  files(env: Record<string, string | undefined> = {}, fake: FakeHost = {}): HostFiles {
    return hostFiles(this.dir, env, fake);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A mountinfo line: id, parent, mount point, type, source, super options. */
export function mountLine(id: number, mountPoint: string, type: string, source: string, opts = "rw"): string {
  return `${id} 1 0:${id} / ${mountPoint} rw,relatime - ${type} ${source} ${opts}`;
}

export const V1_MOUNTS = [
  mountLine(20, "/", "ext4", "/dev/vda"),
  mountLine(31, "/sys/fs/cgroup", "tmpfs", "tmpfs"),
  ...["cpu,cpuacct", "cpuset", "memory", "devices", "pids"].map((c, i) => mountLine(32 + i, `/sys/fs/cgroup/${c}`, "cgroup", "cgroup", `rw,${c}`)),
  mountLine(40, "/sys/fs/cgroup/systemd", "cgroup", "cgroup", "rw,xattr,name=systemd"),
];
export const HYBRID_MOUNTS = [...V1_MOUNTS, mountLine(41, "/sys/fs/cgroup/unified", "cgroup2", "cgroup2")];
export const V2_MOUNTS = [mountLine(20, "/", "ext4", "/dev/vda1"), mountLine(30, "/sys/fs/cgroup", "cgroup2", "cgroup2", "rw,nsdelegate,memory_recursiveprot")];
