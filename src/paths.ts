// Where cbox keeps things (DESIGN.md, Storage): a storage root for images and containers.
import { join } from "node:path";

export interface Paths {
  root: string;
  containers: string;
  names: string;
  /**
   * One empty file per container not known to have ended (made, starting, running): what a
   * start checks for containers whose cbox died, instead of reading every container's state.
   */
  live: string;
}

/** --root, then CBOX_ROOT, then /var/lib/cbox for root or $XDG_DATA_HOME/cbox for a user. */
export function storagePaths(rootFlag?: string): Paths {
  const root = rootFlag || process.env.CBOX_ROOT || defaultRoot();
  return { root, containers: join(root, "containers"), names: join(root, "names"), live: join(root, "live") };
}

function defaultRoot(): string {
  if (process.getuid?.() === 0) return "/var/lib/cbox";
  const data = process.env.XDG_DATA_HOME || join(process.env.HOME || "/", ".local/share");
  return join(data, "cbox");
}
