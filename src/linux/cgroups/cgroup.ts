// What run needs of a container's cgroup, whatever the version: one interface, two drivers.
import { dirname } from "node:path";
import type { CgroupFs } from "./fs.ts";
import { sleepMs } from "../../sys/sleep.ts";
import { thawQuietly } from "./freezer.ts";

export interface ContainerCgroup {
  /** Its folders (one per hierarchy on v1), kept in the container's state so that a later cbox can remove them. */
  readonly paths: string[];
  /** Makes the folders and writes the limits; on failure nothing is left. */
  create(): void;
  /**
   * The files the container's first process writes "0" into to move itself in, before anything
   * of its own runs (v1's tasks files); undefined when cbox moves it with enter (v2). A process
   * moved by another takes the kernel's cgroup_threadgroup_rwsem for writing, and the first such
   * move after a quiet spell waits for an RCU grace period (10-15 ms, DESIGN.md); a v1 task that
   * moves itself does not take it.
   */
  readonly selfEntry: string[] | undefined;
  /** Moves a process in: done for the container's first process before it is released. */
  enter(pid: number): void;
  /** How many processes the kernel killed for memory in it. */
  oomKills(): number;
  remove(): void;
}

/** What both drivers share: the container's folders at paths; make() creates them and writes the limits. */
export abstract class CgroupFolders implements ContainerCgroup {
  abstract readonly selfEntry: string[] | undefined;

  constructor(
    readonly paths: string[],
    protected readonly fs: CgroupFs,
  ) {}

  protected abstract make(): void;

  create(): void {
    try {
      this.make();
    } catch (err) {
      this.remove();
      throw err;
    }
  }

  enter(pid: number): void {
    enterCgroups(this.paths, pid, this.fs);
  }

  oomKills(): number {
    return oomKillsIn(this.paths, this.fs);
  }

  remove(): void {
    removeCgroups(this.paths, this.fs);
  }
}

/** A limit the kernel refused: the flag and the file, for a one-line error. */
export class CgroupWriteError extends Error {
  constructor(
    readonly flag: string,
    readonly file: string,
    readonly value: string,
    readonly code: string,
  ) {
    super(`${file}: cannot write ${value}: ${code}`);
  }
}

const SIGKILL = 9;

/**
 * Removes container cgroups, deepest first, then their `cbox` parent when it is empty. A cgroup
 * is busy while its last tasks exit; if it stays busy, what is still in it is the remains of a
 * dead container (its cbox was killed), and is killed.
 */
export function removeCgroups(paths: string[], fs: CgroupFs): void {
  for (const path of paths) {
    // A paused container whose owner died: its processes got SIGKILL but die only once thawed.
    removeWhenEmpty(path, fs, () => thawQuietly(paths, fs));
    try {
      fs.rmdir(dirname(path));
    } catch {
      // other containers' cgroups are in it
    }
  }
}

/** Removes one cgroup, waiting while its last tasks exit; what stays in it is killed (stuck: called first). */
export function removeWhenEmpty(path: string, fs: CgroupFs, stuck: () => void = () => {}): void {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmdir(path);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || attempt >= 300) throw err;
    }
    if (attempt >= 50) {
      stuck();
      killTasks(path, fs);
    }
    sleepMs(10);
  }
}

function killTasks(path: string, fs: CgroupFs): void {
  for (const pid of cgroupProcs(path, fs)) {
    try {
      process.kill(pid, SIGKILL);
    } catch {
      // gone already
    }
  }
}

/** The pids of the processes in the cgroup at path (not in cgroups below it); [] when it is gone. */
export function cgroupProcs(path: string, fs: CgroupFs): number[] {
  return (fs.read(`${path}/cgroup.procs`) ?? "").split("\n").filter(Boolean).map(Number);
}

/**
 * Makes `parent` (readied by prepare) and then dir in it; again when another cbox removed the
 * empty parent in between (it removes `cbox` when its last container ends).
 */
export function makeInParent(parent: string, dir: string, prepare: () => void, fs: CgroupFs): void {
  for (let attempt = 0; ; attempt++) {
    fs.mkdir(parent);
    prepare();
    try {
      fs.mkdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 5) throw err;
    }
  }
}

/** Writes settings in order, reporting the first the kernel refuses. */
export function writeSettings(dir: string, settings: { file: string; value: string; flag: string }[], fs: CgroupFs): void {
  for (const s of settings) {
    try {
      fs.write(`${dir}/${s.file}`, s.value);
    } catch (err) {
      throw new CgroupWriteError(s.flag, s.file, s.value, (err as NodeJS.ErrnoException).code ?? String(err));
    }
  }
}

/**
 * The files a process writes "0" into to enter the cgroups at paths itself (ContainerCgroup's
 * selfEntry): v1's tasks files, or undefined on v2, whose cgroups have none.
 */
export function selfEntryFiles(paths: string[], fs: CgroupFs): string[] | undefined {
  return paths.length > 0 && fs.exists(`${paths[0]}/tasks`) ? tasksFiles(paths) : undefined;
}

/** v1's tasks file of each cgroup at paths. */
export function tasksFiles(paths: string[]): string[] {
  return paths.map((p) => `${p}/tasks`);
}

/** Moves process pid into each cgroup at paths. */
export function enterCgroups(paths: string[], pid: number, fs: CgroupFs): void {
  for (const path of paths) fs.write(`${path}/cgroup.procs`, String(pid));
}

/**
 * Processes the kernel killed for memory in the cgroups at paths (v2 memory.events, v1
 * memory.oom_control): only the memory controller's cgroup has them, so the search stops there,
 * and a v1 path that names the memory hierarchy is tried first (each miss is two failed opens).
 */
export function oomKillsIn(paths: string[], fs: CgroupFs): number {
  const likelyFirst = [...paths].sort((a, b) => Number(b.includes("/memory")) - Number(a.includes("/memory")));
  for (const p of likelyFirst) {
    const text = fs.read(`${p}/memory.events`) ?? fs.read(`${p}/memory.oom_control`);
    if (text !== undefined) return oomKillCount(text);
  }
  return 0;
}

/** The count after "oom_kill " in memory.events (v2) or memory.oom_control (v1). */
export function oomKillCount(text: string | undefined): number {
  const m = /^oom_kill (\d+)$/m.exec(text ?? "");
  return m ? Number(m[1]) : 0;
}
