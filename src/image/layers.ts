// Registry images' layers on disk, each stored once by its uncompressed digest (the config's
// diff_id) and shared by every image that has it:
//   layers/<hex>/diff        the unpacked layer, whiteouts and opaque folders as overlayfs reads them
//   layers/<hex>/layer.json  what it is (LayerRecord)
//   layers/l/<short>         a short link to diff: a deep image's lowerdir stays under the
//                            one page the kernel takes for mount options
// Layers are unpacked under layers/.tmp-<pid>-*, checked, then renamed into place.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { digestHex } from "./digest.ts";

export interface LayerRecord {
  /** sha256:... of the tar stream: the key. */
  diffId: string;
  /** sha256:... of the blob it was first unpacked from (compressed). */
  digest: string;
  /** Bytes of file content. */
  size: number;
  /** Folders the layer made opaque (relative paths), so files can be read through a stack without getxattr. */
  opaque: string[];
}

/** overlayfs' whiteout, as a layer folder holds it: a 0/0 character device. */
export function isWhiteout(st: { isCharacterDevice(): boolean; rdev: number }): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/**
 * The opaque folders (relative paths) of the layer whose diff/ folder `layer` is (or links to),
 * from its layer.json: read there so a stack can be walked without getxattr. Flat images have none.
 */
export function opaqueFolders(layer: string): Set<string> {
  try {
    const record = JSON.parse(readFileSync(join(dirname(realpathSync(layer)), "layer.json"), "utf8")) as Partial<LayerRecord>;
    return new Set(record.opaque ?? []);
  } catch {
    return new Set();
  }
}

/** Short names: 26 hex digits (104 bits) of the diff_id; a clash is refused, never shared. */
const SHORT = 26;

export function layersDir(paths: Paths): string {
  return join(paths.root, "layers");
}


export function layerDiff(paths: Paths, diffId: string): string {
  return join(layersDir(paths), digestHex(diffId), "diff");
}

/** The layer's short link, relative to layersDir. */
export function layerLink(diffId: string): string {
  return `l/${digestHex(diffId).slice(0, SHORT)}`;
}

export function readLayer(paths: Paths, diffId: string): LayerRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(layersDir(paths), digestHex(diffId), "layer.json"), "utf8")) as LayerRecord;
  } catch {
    return undefined;
  }
}

/** A fresh folder to unpack a layer into (its diff/ made); commitLayer or rmSync ends it. */
export function newLayerTemp(paths: Paths): string {
  const dir = join(layersDir(paths), `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(dir, "diff"), { recursive: true, mode: 0o755 });
  return dir;
}

/** Moves a checked layer into place, with its short link. */
export function commitLayer(paths: Paths, tmp: string, record: LayerRecord): void {
  const dir = layersDir(paths);
  const link = join(dir, layerLink(record.diffId));
  const target = `../${digestHex(record.diffId)}/diff`;
  mkdirSync(join(dir, "l"), { recursive: true, mode: 0o755 });
  const existing = linkTarget(link);
  if (existing !== undefined && existing !== target) {
    rmSync(tmp, { recursive: true, force: true });
    throw new CboxError(`layer ${record.diffId} shares its first ${SHORT} hex digits with the stored layer ${existing.split("/")[1]}: refused`);
  }
  writeFileSync(join(tmp, "layer.json"), JSON.stringify(record, null, 2) + "\n");
  try {
    renameSync(tmp, join(dir, digestHex(record.diffId)));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    rmSync(tmp, { recursive: true, force: true });
  }
  if (existing === undefined) symlinkSync(target, link);
}

function linkTarget(link: string): string | undefined {
  try {
    return readlinkSync(link);
  } catch {
    return undefined;
  }
}

/** Every stored layer's diff_id. */
export function listLayers(paths: Paths): string[] {
  const dir = layersDir(paths);
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`) : [];
}

/** Removes the layers not in `used`; returns their diff_ids. */
export function removeLayersExcept(paths: Paths, used: Set<string>): string[] {
  const removed = listLayers(paths).filter((id) => !used.has(id));
  for (const id of removed) removeLayer(paths, id);
  return removed;
}

/** The short link first: a layer is never reachable half-removed. */
export function removeLayer(paths: Paths, diffId: string): void {
  rmSync(join(layersDir(paths), layerLink(diffId)), { force: true });
  rmSync(join(layersDir(paths), digestHex(diffId)), { recursive: true, force: true });
}
