// The idmapped-mount probe (root only): mount_setattr(MOUNT_ATTR_IDMAP) on a detached copy of a
// folder's mount tree, which is never attached anywhere and goes when its descriptor is closed.
import { closeSync } from "node:fs";
import { userNamespaceWith } from "../container/image-layer.ts";
import { describeErrno } from "../errors.ts";
import { DEFAULT_PRIVATE_START, privateMaps } from "../linux/userns.ts";
import { tryIdmappedCopy } from "../sys/idmap.ts";
import { SpawnError } from "../sys/process.ts";
import type { IdmappedFacts } from "./idmapped.ts";

export function probeIdmapped(path: string): NonNullable<IdmappedFacts["probe"]> {
  try {
    const usernsFd = userNamespaceWith(privateMaps(DEFAULT_PRIVATE_START, DEFAULT_PRIVATE_START));
    try {
      const r = tryIdmappedCopy(path, usernsFd);
      return r === 0 ? true : { failed: describeErrno(-r) };
    } finally {
      closeSync(usernsFd);
    }
  } catch (err) {
    if (err instanceof SpawnError) return { failed: `cannot make a user namespace: ${describeErrno(err.errno)}` };
    return { failed: err instanceof Error ? err.message : String(err) };
  }
}
