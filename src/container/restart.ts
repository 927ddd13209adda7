// `cbox restart`: stop (as cbox stop does), then start (as cbox start does), one container after
// another; a created or stopped one just starts. A --rm container is kept for its new run.
import { writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { withContainerLock } from "./lock.ts";
import { containerState, parseStopTime, stopTargets } from "./signal.ts";
import { startOne, starter } from "./start.ts";
import { containerDirs, updateState } from "./store.ts";

export async function restartContainers(refs: string[], timeout: string | undefined, paths: Paths): Promise<number> {
  if (refs.length === 0) throw new CboxError("cbox restart needs at least one container");
  const seconds = parseStopTime(timeout);
  const s = starter(paths);
  const targets = refs.map((ref) => ({ ref, ...containerState(paths, ref) }));
  for (const t of targets) {
    // Marked before the stop: whoever records its end then keeps it (--rm), for start to run.
    const state = withContainerLock(t.dir, () => updateState(containerDirs(paths, t.id), { stoppedToRestart: true }));
    if (!state) throw new CboxError(`no such container: ${t.ref}`);
    await stopTargets(paths, [{ ...t, state }], seconds);
    startOne(t.ref, paths, s);
    writeSync(1, `${t.ref}\n`);
  }
  return 0;
}
