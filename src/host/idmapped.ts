// Idmapped mounts (Linux 5.12, and a filesystem that supports them): how root's --userns=private
// shows an image to a container's range without copying it.
import { ok, warn, type Caller, type Check } from "./check.ts";
import { kernelAtLeast } from "./kernel.ts";

export interface IdmappedFacts {
  release: string;
  /** The folder tried (the storage root, or its nearest existing ancestor) and its filesystem. */
  path: string;
  filesystem: string;
  /** true: an idmapped copy of path was made; a string: why it failed, or why it was not tried. */
  probe?: true | { failed: string } | { skipped: string };
}

export function idmappedCheck(f: IdmappedFacts, caller: Caller): Check {
  const name = "idmapped mounts";
  const copies = "--userns=private keeps one copy of each image per id range instead (more disk, a slower first start)";
  if (!kernelAtLeast(f.release, 5, 12)) {
    return caller.root ? warn(name, `Linux ${f.release} has none (5.12 or later): ${copies}`, "upgrade the kernel to 5.12 or later") : ok(name, `Linux ${f.release} has none; only root's --userns=private uses them`);
  }
  if (!caller.root) return ok(name, `Linux ${f.release} has them; only root's --userns=private uses them`);
  const where = `${f.path} on ${f.filesystem}`;
  if (f.probe === true) return ok(name, `made an idmapped copy of ${where}`);
  if (f.probe && "failed" in f.probe) return warn(name, `${where} cannot be idmapped: ${f.probe.failed}; ${copies}`, "a --root on ext4, xfs or btrfs (tmpfs from Linux 6.3)");
  return ok(name, `Linux ${f.release} has them; ${where} not tried: ${f.probe?.skipped ?? "no folder to try"}`);
}
