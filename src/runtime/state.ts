// The runtime's record of its containers: ROOT/ID/state.json, and ROOT/ID/exec.fifo while the
// container waits for `start` (runc's layout and idea). Whether it runs is read from the kernel.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CboxError } from "../errors.ts";
import { isSameProcess } from "../linux/proc.ts";
import { inUserNamespace } from "../linux/userns.ts";
import { cgroupProcs } from "../linux/cgroups/cgroup.ts";
import { cgroupfs } from "../linux/cgroups/fs.ts";
import { isFrozen } from "../linux/cgroups/freezer.ts";
import type { OciHooks } from "./config.ts";

export const OCI_VERSION = "1.0.2";

export interface RuntimeState {
  id: string;
  pid: number;
  /** /proc/PID/stat's start time: tells the container's process from a later one with its pid. */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations: Record<string, string>;
  cgroupPaths: string[];
  /** Hooks run after start and after delete. */
  hooks: Pick<OciHooks, "poststart" | "poststop">;
  /** Whether the container has its own PID namespace (kill --all is then the namespace's end). */
  ownPidNamespace: boolean;
}

export type Status = "created" | "running" | "paused" | "stopped";

const ID = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,1023}$/;

export function checkId(id: string | undefined): string {
  if (!id) throw new CboxError("a container id is required");
  if (!ID.test(id)) throw new CboxError(`container id ${JSON.stringify(id)}: use letters, digits and _ . + - (not starting with one of those marks)`);
  return id;
}

export class StateDir {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  fifo(id: string): string {
    return join(this.root, id, "exec.fifo");
  }

  /** Claims id: its folder is made (EEXIST: taken). */
  claim(id: string): string {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(this.dir(id), { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new CboxError(`container ${id} exists already; delete it first (cbox-runtime delete ${id})`);
      throw err;
    }
    return this.dir(id);
  }

  write(state: RuntimeState): void {
    const file = join(this.dir(state.id), "state.json");
    writeFileSync(`${file}.tmp`, JSON.stringify(state));
    renameSync(`${file}.tmp`, file);
  }

  read(id: string): RuntimeState | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), "state.json"), "utf8")) as RuntimeState;
    } catch {
      return undefined;
    }
  }

  /** The state of an existing container, or a one-line error naming id. */
  load(id: string): RuntimeState {
    const state = this.read(checkId(id));
    if (!state) throw new CboxError(`container ${id} does not exist`);
    return state;
  }

  status(state: RuntimeState): Status {
    if (!isSameProcess(state.pid, state.pidStartTime)) return "stopped";
    if (existsSync(this.fifo(state.id))) return "created";
    return state.cgroupPaths.length && isFrozen(state.cgroupPaths) ? "paused" : "running";
  }

  ids(): string[] {
    try {
      return readdirSync(this.root).filter((name) => ID.test(name)).sort();
    } catch {
      return [];
    }
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }
}

/** The pids in the container's cgroup (its own, not those of cgroups below it). */
export function containerPids(state: RuntimeState): number[] {
  return state.cgroupPaths.length ? cgroupProcs(state.cgroupPaths[0]!, cgroupfs) : [];
}

/** The runtime spec's state document, with runc's extra fields (engines read rootfs and created). */
export function specState(state: RuntimeState, status: Status): Record<string, unknown> {
  return {
    ociVersion: OCI_VERSION,
    id: state.id,
    pid: status === "stopped" ? 0 : state.pid,
    status,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
    owner: "",
    annotations: state.annotations,
  };
}

/**
 * runc's default state folder: /run/cbox-runtime for root, under XDG_RUNTIME_DIR for a user, and
 * for root of a user namespace (rootless podman runs its runtime so) when XDG_RUNTIME_DIR is set.
 */
export function defaultRoot(env: Record<string, string | undefined>): string {
  const runtimeDir = env.XDG_RUNTIME_DIR;
  if (process.getuid!() === 0 && (!inUserNamespace() || !runtimeDir)) return "/run/cbox-runtime";
  return runtimeDir ? join(runtimeDir, "cbox-runtime") : `/tmp/cbox-runtime-${process.getuid!()}`;
}
