// The helpers' probe: newuidmap and newgidmap write the maps of a child waiting in a new user
// namespace, as they would for a container; the child is then killed. Nothing is left.
import { describeErrno } from "../errors.ts";
import { CloneFlag } from "../linux/namespaces.ts";
import { writeMaps, type UserMaps } from "../linux/userns.ts";
import { spawnHeld, SpawnError } from "../sys/process.ts";

/** true when the maps were written, else why not. */
export function probeMaps(maps: UserMaps): true | string {
  let child;
  try {
    child = spawnHeld([{ op: "exit", ints: [0] }], CloneFlag.newuser | CloneFlag.vm);
  } catch (err) {
    if (err instanceof SpawnError) return `cannot make a user namespace: ${describeErrno(err.errno)}`;
    throw err;
  }
  try {
    writeMaps(child.pid, maps);
    return true;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    child.abort();
  }
}
