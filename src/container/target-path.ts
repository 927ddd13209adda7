// Where a mount target leads through the image's symlinks. The shim attaches mounts after
// pivot_root, so the kernel can never take one onto the host; a target that would climb above
// the root is still refused, with the link that does it named, rather than quietly mounted
// somewhere the user did not mean.
import { lstatSync, readlinkSync, type Stats } from "node:fs";
import { CboxError } from "../errors.ts";

const MAX_LINKS = 40; // the kernel's limit on links in one lookup

/**
 * Follows target (absolute, normalized) through layers, the topmost first (an overlay's upper,
 * then its lower). Returns why it escapes, or undefined when it stays inside or reaches a part
 * that does not exist yet (the shim makes that part, and plain folders hold no links).
 */
export function escapeThroughSymlinks(layers: string[], target: string): string | undefined {
  let resolved: string[] = [];
  let pending = target.split("/").filter(Boolean);
  let links = 0;
  let lastLink = "";
  while (pending.length) {
    const name = pending.shift()!;
    if (name === ".") continue;
    if (name === "..") {
      // target is normalized: every ".." comes from a link
      if (!resolved.length) return `${target} leads out of the container's root through the symlink ${lastLink}`;
      resolved.pop();
      continue;
    }
    const inside = `/${[...resolved, name].join("/")}`;
    const found = lookup(layers, inside);
    if (!found) return undefined;
    if (found.stat.isSymbolicLink()) {
      if (++links > MAX_LINKS) return `${target} has too many levels of symbolic links`;
      const link = readlinkSync(found.path, "utf8");
      lastLink = `${inside} -> ${link}`;
      if (link.startsWith("/")) resolved = [];
      pending = [...link.split("/").filter(Boolean), ...pending];
      continue;
    }
    if (!found.stat.isDirectory()) return undefined;
    resolved.push(name);
  }
  return undefined;
}

function lookup(layers: string[], inside: string): { path: string; stat: Stats } | undefined {
  for (const layer of layers) {
    const path = `${layer}${inside}`;
    let stat: Stats;
    try {
      stat = lstatSync(path);
    } catch {
      continue; // not in this layer (or not readable to us): the next one decides
    }
    // overlayfs's whiteout: deleted in the container.
    if (stat.isCharacterDevice() && stat.rdev === 0) return undefined;
    return { path, stat };
  }
  return undefined;
}

/** What one step of a lookup found: a symlink (its target), a folder, or anything else (a file, or nothing). */
export type Found = { link: string } | "folder" | "other";

/** Where a lookup stands: the folder reached so far, as walkInRoot moves it. */
export interface Walker {
  /** What name is in the folder reached so far. */
  look(name: string): Found;
  /** Goes on into name (what look found there, which was no link). */
  enter(name: string, found: Found): void;
  /** "..": the folder above, never above the root. */
  up(): void;
  /** An absolute link: back at the root. */
  toRoot(): void;
}

/**
 * Walks path inside a root as the kernel would after pivot_root: a symlink is followed inside the
 * root (an absolute one starts again at the root, ".." stops at it). The last component is
 * followed too when it is a link and followLast; it is returned, not entered. Undefined when
 * the path ends at the folder reached itself ("/", or a last "." or "..").
 */
export function walkInRoot(path: string, w: Walker, followLast: boolean): string | undefined {
  let pending = path.split("/").filter(Boolean);
  let links = 0;
  while (pending.length) {
    const name = pending.shift()!;
    if (name === ".") continue;
    if (name === "..") {
      w.up();
      continue;
    }
    const last = pending.length === 0;
    if (last && !followLast) return name;
    const found = w.look(name);
    if (typeof found === "object") {
      if (++links > MAX_LINKS) throw new CboxError(`${path}: too many levels of symbolic links`);
      if (found.link.startsWith("/")) w.toRoot();
      pending = [...found.link.split("/").filter(Boolean), ...pending];
      continue;
    }
    if (last) return name;
    w.enter(name, found);
  }
  return undefined;
}

/**
 * Where path leads inside root, following its symlinks as if root were "/" (an absolute link
 * starts again at root, ".." stops at root), as the path would resolve after pivot_root. The
 * result is absolute inside root; parts that do not exist yet are kept as written.
 */
export function resolveInRoot(root: string, path: string): string {
  const resolved: string[] = [];
  const inside = (name: string) => `${root}/${[...resolved, name].join("/")}`;
  const last = walkInRoot(
    path,
    {
      look: (name) => {
        let stat: Stats | undefined;
        try {
          stat = lstatSync(inside(name));
        } catch {
          return "other"; // missing, or under a file: kept as written
        }
        return stat.isSymbolicLink() ? { link: readlinkSync(inside(name), "utf8") } : stat.isDirectory() ? "folder" : "other";
      },
      enter: (name) => resolved.push(name),
      up: () => resolved.pop(),
      toRoot: () => (resolved.length = 0),
    },
    true,
  );
  if (last !== undefined) resolved.push(last);
  return `/${resolved.join("/")}`;
}
