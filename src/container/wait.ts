// `cbox wait`: blocks until containers end and prints each one's exit code, as docker does.
import { writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { resolveContainer } from "./remove.ts";
import { until } from "./signal.ts";
import { liveState } from "./status.ts";
import { containerDirs, readState } from "./store.ts";

export async function waitContainers(refs: string[], paths: Paths): Promise<number> {
  if (refs.length === 0) throw new CboxError("cbox wait needs at least one container");
  const targets = refs.map((ref) => ({ ref, dir: containerDirs(paths, resolveContainer(paths, ref)).dir }));
  for (const { ref, dir } of targets) {
    await until(() => {
      const state = readState(dir);
      return !state || liveState(state) === "exited";
    }, Infinity);
    const state = readState(dir);
    if (!state) throw new CboxError(`container ${ref} was removed (--rm) before its exit code could be read`);
    writeSync(1, `${state.exitCode ?? -1}\n`);
  }
  return 0;
}
