// Reading the container store, apart from the code that changes it (store.ts), whose imports
// (cgroups, network, the shim) cost start-up time: `cbox ps` loads only this, and the rest only
// when a killed cbox left something to recover.
import { readdirSync, readFileSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { processStartTime } from "../linux/proc.ts";
import { under, type Paths } from "../paths.ts";
import type { ContainerDirs } from "./plan.ts";
import { liveState, type LiveState } from "./status.ts";
import type { ContainerSpec } from "./spec.ts";
import type { ContainerState } from "./store.ts";

export const CONTAINER_ID = /^[0-9a-f]{64}$/;

export function containerDirs(paths: Paths, id: string): ContainerDirs {
  const dir = under(paths.containers, id);
  return {
    dir,
    rootfs: under(dir, "rootfs"),
    upper: under(dir, "upper"),
    work: under(dir, "work"),
    hostname: under(dir, "hostname"),
    hosts: under(dir, "hosts"),
    resolvConf: under(dir, "resolv.conf"),
    log: under(dir, "container.log"),
    exit: under(dir, "exit"),
    attach: under(dir, "attach"),
    live: under(paths.live, id),
  };
}

export function readState(dir: string): ContainerState | undefined {
  try {
    return JSON.parse(readFileSync(`${dir}/state.json`, "utf8")) as ContainerState;
  } catch {
    return undefined;
  }
}

/**
 * What the container was made with, for start and exec: its spec.json, written once when it was
 * made (kept out of state.json, which `ps` parses for every container). Containers made before
 * had it in state.json.
 */
export function readSpec(dir: string, state: ContainerState): ContainerSpec | undefined {
  if (state.spec) return state.spec;
  try {
    return JSON.parse(readFileSync(`${dir}/spec.json`, "utf8")) as ContainerSpec;
  } catch {
    return undefined;
  }
}

/** A container id from a full id, a unique prefix of one, or a name. */
export function resolveContainer(paths: Paths, ref: string): string {
  try {
    const id = readFileSync(under(paths.names, ref), "utf8").trim();
    if (readState(containerDirs(paths, id).dir)) return id;
  } catch {
    // not a name
  }
  const matches = /^[0-9a-f]+$/.test(ref) ? listContainerIds(paths).filter((id) => id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new CboxError(`"${ref}" matches ${matches.length} containers; give more of the id`);
  throw new CboxError(`no such container: ${ref}`);
}

export function listContainerIds(paths: Paths): string[] {
  return safeReaddir(paths.containers).filter((n) => CONTAINER_ID.test(n));
}

export interface StoreScan {
  /** Every container with a readable state, and what it is doing now. */
  containers: { state: ContainerState; live: LiveState }[];
  /** A killed cbox left something that recoverStale (store.ts) would change. */
  stale: boolean;
}

/**
 * Reads every container once, checking its owner once. stale mirrors recoverStale's tests: a
 * half-created folder or temporary name of a dead process, a container that ended unrecorded,
 * a name whose container has no state.
 */
export function scanStore(paths: Paths): StoreScan {
  const containers: StoreScan["containers"] = [];
  const ids = new Set<string>();
  let stale = false;
  for (const entry of safeReaddir(paths.containers)) {
    const orphan = orphanedTemp(entry, ".new-");
    if (orphan !== undefined) {
      stale ||= orphan;
      continue;
    }
    if (!CONTAINER_ID.test(entry)) continue;
    // Paths joined by hand here and in readState: path.join costs ~1 µs a call (measured).
    const state = readState(`${paths.containers}/${entry}`);
    if (!state) continue;
    const live = liveState(state);
    stale ||= live !== state.status; // liveState differs only when the end went unrecorded
    ids.add(entry);
    containers.push({ state, live });
  }
  for (const name of safeReaddir(paths.names)) {
    if (stale) break;
    const orphan = orphanedTemp(name, ".tmp-");
    if (orphan !== undefined) stale = orphan;
    else {
      const id = readNameHolder(paths, name);
      stale = id !== "" && !ids.has(id) && !readState(under(paths.containers, id));
    }
  }
  return { containers, stale };
}

/**
 * For a half-made entry (a folder ".new-PID-ID", a name ".tmp-PID-ID"): whether the process
 * making it is gone. Undefined when name is no such entry.
 */
export function orphanedTemp(name: string, prefix: ".new-" | ".tmp-"): boolean | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const pid = /^\.(?:new|tmp)-(\d+)-/.exec(name)?.[1];
  return pid === undefined ? undefined : !processStartTime(Number(pid));
}

/** The id a name file holds, or "" when it cannot be read. */
export function readNameHolder(paths: Paths, name: string): string {
  try {
    return readFileSync(under(paths.names, name), "utf8").trim();
  } catch {
    return "";
  }
}

export function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
