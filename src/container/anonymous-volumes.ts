// An image's `Volumes`: each path the image names gets a volume of its own unless a -v, --mount
// or --tmpfs covers it, as docker does: an anonymous volume of the store (volume-store.ts),
// filled with what the image has at that path, bound into the container. `cbox rm -v` and
// `run --rm` remove them; a plain `cbox rm` keeps them, as docker keeps its anonymous volumes.
import { resolve } from "node:path";
import type { Volume } from "./spec.ts";

/** An anonymous volume on target, named and placed later (volume-use.ts). */
export function anonymousVolume(target: string, readonly: boolean): Volume {
  return { source: "", target, readonly, isFile: false, anonymous: true };
}

/** The volumes to make for the image's paths that no mount of the command line takes. */
export function anonymousVolumes(imagePaths: string[], taken: string[]): Volume[] {
  const targets = [...new Set(imagePaths.map((p) => resolve("/", p)))].filter((t) => t !== "/" && !taken.includes(t));
  return targets.map((target) => anonymousVolume(target, false));
}
