// File writes that readers never see half done.
import { renameSync, writeFileSync } from "node:fs";

/** Writes by a temp name and a rename: readers see the old content or the new, never part. */
export function writeAtomic(path: string, data: string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}
