// An image's `Volumes`: each path the image names gets a volume of its own unless a -v, --mount
// or --tmpfs covers it, as docker does: a folder `volumes/<id>/_data` in the storage root,
// filled with what the image has at that path, bound into the container. `cbox rm -v` and
// `run --rm` remove them; a plain `cbox rm` keeps them, as docker keeps its anonymous volumes.
import { lchownSync, lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { isWhiteout, opaqueFolders } from "../image/layers.ts";
import type { Volume } from "./spec.ts";

export function volumesDir(paths: Paths): string {
  return join(paths.root, "volumes");
}

/** The volumes to make for the image's paths that no mount of the command line takes. */
export function anonymousVolumes(paths: Paths, imagePaths: string[], taken: string[]): Volume[] {
  const targets = [...new Set(imagePaths.map((p) => resolve("/", p)))].filter((t) => t !== "/" && !taken.includes(t));
  return targets.map((target) => {
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
    return { source: join(volumesDir(paths), id, "_data"), target, readonly: false, isFile: false, anonymous: true };
  });
}

/**
 * Makes each volume's folder with what the image's layers (topmost first) show at its path,
 * owned as there, shifted by `shift` (the host ids of the container's root, for --userns=private).
 */
export function fillAnonymousVolumes(volumes: Volume[], layers: string[], shift?: { uid: number; gid: number }): void {
  for (const v of volumes.filter((v) => v.anonymous)) {
    mkdirSync(dirname(v.source), { recursive: true, mode: 0o711 });
    mkdirSync(v.source, { mode: 0o755 });
    for (const layer of [...layers].reverse()) copyLayerPath(layer, v.target, v.source);
    if (shift) shiftOwners(v.source, shift);
  }
}

/** One layer's share of the path, over what the layers below put there. */
function copyLayerPath(layer: string, path: string, dest: string): void {
  const rel = path.slice(1);
  const parts = rel.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const st = lstatSync(join(layer, ...parts.slice(0, i)), { throwIfNoEntry: false });
    if (!st) return; // this layer has nothing there
    if (isWhiteout(st)) return clear(dest); // the path (or a folder above it) deleted here
    if (!st.isDirectory()) return; // a file or link in the folder's place: docker copies folders only
  }
  const opaque = opaqueFolders(layer);
  if (parts.some((_, i) => opaque.has(parts.slice(0, i + 1).join("/")))) clear(dest);
  for (const o of opaque) if (o.startsWith(`${rel}/`)) rmSync(join(dest, o.slice(rel.length + 1)), { recursive: true, force: true });
  const copy = Bun.spawnSync(["cp", "-a", "--", `${join(layer, rel)}/.`, `${dest}/`], { stderr: "pipe" });
  if (copy.exitCode !== 0) throw new CboxError(`cannot fill the volume for ${path} from the image: ${copy.stderr.toString().trim()}`);
  removeWhiteouts(dest);
}

function clear(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** A whiteout copied in stands where a lower layer's file was: both go. */
function removeWhiteouts(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (isWhiteout(st)) rmSync(path);
    else if (st.isDirectory()) removeWhiteouts(path);
  }
}

function shiftOwners(path: string, by: { uid: number; gid: number }): void {
  const st = lstatSync(path);
  lchownSync(path, st.uid + by.uid, st.gid + by.gid);
  if (st.isDirectory()) for (const name of readdirSync(path)) shiftOwners(join(path, name), by);
}
