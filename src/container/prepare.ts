// What cbox opens on the host for a container's first process (its stdio ends, fd numbers for
// volumes, the idmapped image), and lets go of once that process has what it needs.
import { closeSync, openSync, statSync } from "node:fs";
import { MASKED_PATHS, READ_ONLY_PATHS, type KernelPath } from "../linux/mounts.ts";
import type { UserMaps } from "../linux/userns.ts";
import { detachMount } from "../sys/idmap.ts";
import { imageLowers } from "./image-layer.ts";
import { lockdownFor } from "./lockdown.ts";
import type { Prepared } from "./plan.ts";
import type { ContainerSpec } from "./spec.ts";
import { ContainerStdio } from "./stdio.ts";

export class Preparation {
  readonly stdio: ContainerStdio;
  readonly prepared: Prepared;
  /** Fds only the child needs. */
  private fds: number[] = [];
  /** Mounted on the host until the child has its overlay. */
  private mounted: string[] = [];

  /** shared: the namespaces the child joins itself, and a /dev/shm to bind (shared-namespaces.ts). */
  constructor(spec: ContainerSpec, maps: UserMaps | undefined, containerDir: string, env: Record<string, string | undefined>, detached: boolean, shared: { joins: { path: string; type: number }[]; shm?: { bind: string } | { mountNamespace: string } } = { joins: [] }) {
    this.stdio = new ContainerStdio({ interactive: spec.interactive, tty: spec.tty, detached });
    try {
      const lowers = imageLowers(spec, maps, containerDir, env);
      this.mounted = lowers.mounted;
      // Numbers the child may put the volumes' mount trees on: held here so nothing else takes them.
      const volumeFds = spec.volumes.map(() => openSync("/dev/null", "r"));
      this.fds.push(...volumeFds);
      const free = () => {
        const fd = openSync("/dev/null", "r");
        this.fds.push(fd);
        return fd;
      };
      const joins = shared.joins.map((j) => ({ ...j, fd: free() }));
      const shm = shared.shm && "mountNamespace" in shared.shm ? { mountNamespace: shared.shm.mountNamespace, ownFd: free(), theirFd: free(), treeFd: free() } : shared.shm;
      this.prepared = {
        stdio: this.stdio.plan,
        lowerdirs: lowers.lowerdirs,
        lowerBase: lowers.base,
        volumeFds,
        lockdown: lockdownFor(spec.security),
        masked: kernelPaths(MASKED_PATHS),
        readOnly: kernelPaths(READ_ONLY_PATHS),
        joins,
        shm,
      };
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The child is cloned: it holds its own copies now. */
  spawned(): void {
    this.closeChildFds();
    this.stdio.spawned();
  }

  /** The child has set up its mounts (or failed to): nothing of ours need stay mounted. */
  started(): void {
    for (const target of this.mounted) detachMount(target);
    this.mounted = [];
  }

  close(): void {
    this.closeChildFds();
    this.started();
    this.stdio.close();
  }

  private closeChildFds(): void {
    for (const fd of this.fds) closeSync(fd);
    this.fds = [];
  }
}

/**
 * The paths as this kernel has them: the container's /proc and /sys are new mounts of the same
 * kernel, so the host's show which exist and which are folders.
 */
function kernelPaths(paths: string[]): KernelPath[] {
  return paths.flatMap((path) => {
    const st = statSync(path, { throwIfNoEntry: false }); // most starts miss some: no exception each
    return st ? [{ path, isDir: st.isDirectory() }] : [];
  });
}
