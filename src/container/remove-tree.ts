// Removing a container's folder. Rootless containers can leave files owned by subordinate ids
// that the user cannot delete on the host; root of the container's user namespace can.
import { existsSync, rmSync } from "node:fs";
import { CloneFlag } from "../linux/namespaces.ts";
import { writeMaps, type UserMaps } from "../linux/userns.ts";
import { exitCodeOf, spawnHeld } from "../sys/process.ts";

export function treeRemover(maps: UserMaps | undefined): (path: string) => void {
  return (path) => {
    try {
      rmSync(path, { recursive: true, force: true });
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!maps || (code !== "EACCES" && code !== "EPERM")) throw err;
    }
    removeInUserNamespace(path, maps);
  };
}

function removeInUserNamespace(path: string, maps: UserMaps): void {
  const child = spawnHeld(
    [
      { op: "closeFrom", ints: [3] },
      { op: "exec", ints: [3, 0], strs: ["/usr/bin:/bin", "rm", "-rf", path] },
    ],
    CloneFlag.newuser | CloneFlag.vm,
  );
  try {
    writeMaps(child.pid, maps);
  } catch (err) {
    child.abort();
    throw err;
  }
  const failure = child.release();
  const code = exitCodeOf(child.wait());
  if (failure || code !== 0 || existsSync(path)) throw new Error(`cannot remove ${path} in the user namespace (rm exit ${code})`);
}
