// Where a mount target leads through the image's symlinks. The shim attaches mounts after
// pivot_root, so the kernel can never take one onto the host; a target that would climb above
// the root is still refused, with the link that does it named, rather than quietly mounted
// somewhere the user did not mean.
import { lstatSync, readlinkSync, type Stats } from "node:fs";

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

/**
 * Where path leads inside root, following its symlinks as if root were "/" (an absolute link
 * starts again at root, ".." stops at root), as the path would resolve after pivot_root. The
 * result is absolute inside root; parts that do not exist yet are kept as written.
 */
export function resolveInRoot(root: string, path: string): string {
  const resolved: string[] = [];
  let pending = path.split("/").filter(Boolean);
  let links = 0;
  while (pending.length) {
    const name = pending.shift()!;
    if (name === ".") continue;
    if (name === "..") {
      resolved.pop();
      continue;
    }
    const inside = `/${[...resolved, name].join("/")}`;
    let stat: Stats | undefined;
    try {
      stat = lstatSync(`${root}${inside}`);
    } catch {
      stat = undefined;
    }
    if (stat?.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new Error(`${path}: too many levels of symbolic links`);
      const link = readlinkSync(`${root}${inside}`, "utf8");
      if (link.startsWith("/")) resolved.length = 0;
      pending = [...link.split("/").filter(Boolean), ...pending];
      continue;
    }
    resolved.push(name);
  }
  return `/${resolved.join("/")}`;
}
