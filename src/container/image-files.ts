// Reading a file of an image through its layers as the overlay will show it: the topmost layer
// that has the path wins; a whiteout (a 0/0 character device) or an opaque folder above it
// hides what lies below. Used before the container exists (its /etc/passwd for --user).
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isWhiteout, opaqueFolders } from "../image/layers.ts";

/** The file's text, or "" when no layer shows it. `layers` are topmost first. */
export function readImageFile(layers: string[], path: string): string {
  const parts = path.split("/").filter(Boolean);
  for (const layer of layers) {
    // Read through every component, the file is here and none of them is a whiteout (a device is
    // no folder, and reading one fails): only a failed read needs the walk below.
    try {
      return readFileSync(join(layer, path), "utf8");
    } catch {
      // not in this layer, or whited out here
    }
    for (let i = 1; i <= parts.length; i++) {
      const st = lstatSync(join(layer, ...parts.slice(0, i)), { throwIfNoEntry: false });
      if (st && isWhiteout(st)) return ""; // whited out here
    }
    const opaque = opaqueFolders(layer);
    if (parts.some((_, i) => i > 0 && opaque.has(parts.slice(0, i).join("/")))) return "";
  }
  return "";
}
