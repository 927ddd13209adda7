// Where cbox keeps things (DESIGN.md, Storage): a storage root for images and containers.
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
  const root = withoutTrailingSlash(rootFlag || process.env.CBOX_ROOT || defaultRoot());
  return { root, containers: under(root, "containers"), names: under(root, "names"), live: under(root, "live") };
}

function defaultRoot(): string {
  if (process.getuid?.() === 0) return "/var/lib/cbox";
  const data = withoutTrailingSlash(process.env.XDG_DATA_HOME || `${(process.env.HOME ?? "").replace(/\/+$/, "")}/.local/share`);
  return under(data, "cbox");
}

/**
 * name in the folder dir. The store's paths are joined by hand: node:path
 * costs ~0.2 ms to load (measured), and `cbox ps` needs nothing else of it.
 */
export function under(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}
