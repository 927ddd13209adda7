// `cbox rename OLD NEW`: a container, running or not, under a new name.
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { withContainerLock } from "./lock.ts";
import { resolveContainer } from "./remove.ts";
import { checkName } from "./spec.ts";
import { containerDirs, readState, renameInStore } from "./store.ts";

export function renameContainer(operands: string[], paths: Paths): number {
  if (operands.length !== 2) throw new CboxError("cbox rename needs two arguments: cbox rename CONTAINER NEW_NAME");
  const [ref, name] = operands as [string, string];
  checkName(name, "new name");
  const id = resolveContainer(paths, ref);
  const dir = containerDirs(paths, id).dir;
  withContainerLock(dir, () => {
    const state = readState(dir);
    if (!state) throw new CboxError(`no such container: ${ref}`);
    if (state.name === name) throw new CboxError(`container ${ref} is named ${name} already; give another name`);
    renameInStore(paths, state, name);
  });
  return 0;
}
