// `cbox rm`: find containers by id, unique id prefix or name, and remove them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CboxError } from "../errors.ts";
import { isSameProcess } from "../linux/proc.ts";
import { detectRootlessMaps } from "../linux/userns.ts";
import type { Paths } from "../paths.ts";
import { treeRemover } from "./remove-tree.ts";
import { containerDirs, listContainerIds, readState, recoverStale, removeContainer } from "./store.ts";

/** A container id from a full id, a unique prefix of one, or a name. */
export function resolveContainer(paths: Paths, ref: string): string {
  try {
    const id = readFileSync(join(paths.names, ref), "utf8").trim();
    if (readState(containerDirs(paths, id).dir)) return id;
  } catch {
    // not a name
  }
  const matches = /^[0-9a-f]+$/.test(ref) ? listContainerIds(paths).filter((id) => id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new CboxError(`"${ref}" matches ${matches.length} containers; give more of the id`);
  throw new CboxError(`no such container: ${ref}`);
}

/** The store brought back to the truth (recoverStale) with the right way to remove trees. */
export function recoverStaleStore(paths: Paths): (path: string) => void {
  const removeTree = treeRemover(process.getuid!() === 0 ? undefined : detectRootlessMaps());
  recoverStale(paths, removeTree);
  return removeTree;
}

export function removeContainers(refs: string[], force: boolean, paths: Paths): number {
  if (refs.length === 0) throw new CboxError("cbox rm needs at least one container");
  const removeTree = recoverStaleStore(paths);
  const ids = refs.map((ref) => resolveContainer(paths, ref));
  for (const [i, id] of ids.entries()) {
    const state = readState(containerDirs(paths, id).dir)!;
    const running = state.status !== "exited" && isSameProcess(state.owner.pid, state.owner.startTime);
    if (running && !force) throw new CboxError(`container ${refs[i]} is running; stop it first or use cbox rm -f`);
    if (running && state.pid) killQuietly(state.pid);
    removeContainer(paths, id, removeTree);
    console.log(refs[i]);
  }
  return 0;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // it ended on its own meanwhile
  }
}
