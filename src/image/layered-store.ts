// Storing a layered image, wherever its bytes come from (a registry, a docker or OCI archive):
// each layer unpacked once under its lock and checked against its digests before it is renamed
// into place, then the image's record. A failure takes back the layers it stored.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { unpackArchive } from "./archive.ts";
import type { ImageConfig } from "./image-config.ts";
import { commitLayer, layersDir, newLayerTemp, readLayer, removeLayer, type LayerRecord } from "./layers.ts";
import { formatPlatform } from "./registry/platform.ts";
import { commitImage, imagesDir, listImageIds, readImage, withLockIn, type ImageRecord } from "./store.ts";
import { UnsafeEntryError } from "./unpack.ts";
import { digestHex } from "./digest.ts";


export interface LayerSource {
  diffId: string;
  /** sha256:... the bytes must have (a registry's blob); none when only the tar stream is known. */
  digest?: string;
  /** "layer sha256:... of IMAGE", for messages. */
  describe: string;
  bytes(): AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>;
}

/** Unpacks one layer into the store and checks both digests; nothing stays when it fails. */
export async function unpackLayer(paths: Paths, layer: LayerSource): Promise<LayerRecord> {
  const { describe } = layer;
  const source = await layer.bytes();
  const tmp = newLayerTemp(paths);
  try {
    const result = await unpackArchive(source, join(tmp, "diff"), { asRoot: process.getuid!() === 0, layer: true, describe });
    if (layer.digest && `sha256:${result.sha256}` !== layer.digest) {
      throw new CboxError(`${describe} does not match its digest: got sha256:${result.sha256}; nothing was stored`);
    }
    if (`sha256:${result.diffId}` !== layer.diffId) {
      throw new CboxError(`${describe}: its tar stream is sha256:${result.diffId}, the config says ${layer.diffId}; nothing was stored`);
    }
    const record: LayerRecord = { diffId: layer.diffId, digest: layer.digest ?? `sha256:${result.sha256}`, size: result.bytes, opaque: result.opaque };
    commitLayer(paths, tmp, record);
    return record;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (err instanceof UnsafeEntryError) throw new CboxError(`${describe}: ${err.message}; nothing was stored`);
    throw err;
  }
}

/**
 * Every layer in the store, `store` called (under the layer's lock) for those missing; records
 * in order. When one fails, the layers this call stored go again, unless an image has come to use
 * them meanwhile. (A cbox killed outright leaves its verified layers, for the next to use.)
 */
export async function storeLayers(
  paths: Paths,
  diffIds: string[],
  store: (i: number) => Promise<LayerRecord>,
  parallel: number,
): Promise<LayerRecord[]> {
  const stored: string[] = [];
  const one = (i: number) =>
    withLockIn(layersDir(paths), digestHex(diffIds[i]!), async () => {
      const found = readLayer(paths, diffIds[i]!);
      if (found) return found;
      const record = await store(i);
      stored.push(record.diffId);
      return record;
    });
  const all = () => inParallel(diffIds.map((_, i) => () => one(i)), parallel);
  try {
    const records = await all();
    // A failure next to this call may have taken back a layer it found stored: store it again.
    return diffIds.some((d) => !readLayer(paths, d)) ? await all() : records;
  } catch (err) {
    await dropUnusedLayers(paths, stored);
    throw err;
  }
}

async function dropUnusedLayers(paths: Paths, diffIds: string[]): Promise<void> {
  for (const diffId of diffIds) {
    await withLockIn(layersDir(paths), digestHex(diffId), async () => {
      const used = listImageIds(paths).some((id) => readImage(paths, id)?.layers?.includes(diffId));
      if (!used) removeLayer(paths, diffId);
    });
  }
}

/**
 * Runs the tasks, at most `limit` at once; results in order. After a failure no new task
 * starts, the running ones end (their temp folders gone), then the first failure rejects.
 */
async function inParallel<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < tasks.length) {
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failure) throw failure.err;
  return results;
}

export interface LayeredImage {
  /** The config's sha256 (hex): the image id. */
  id: string;
  configBytes: Uint8Array;
  config: ImageConfig;
  /** The manifest, when one came with it (kept for `save`). */
  manifest?: Uint8Array;
  source: string;
  repoDigests: string[];
  layers: LayerRecord[];
}

/** The image's record over its stored layers; if another cbox stored it first, that one stays. */
export function commitLayeredImage(paths: Paths, image: LayeredImage): ImageRecord {
  const tmp = join(imagesDir(paths), `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(tmp, { recursive: true, mode: 0o755 });
  try {
    if (image.manifest) writeFileSync(join(tmp, "manifest.json"), image.manifest);
    writeFileSync(join(tmp, "config.json"), image.configBytes);
    const c = image.config;
    const record: ImageRecord = {
      id: image.id,
      source: image.source,
      arch: formatPlatform({ os: c.os || "linux", architecture: c.architecture, variant: c.variant }),
      created: c.created ?? new Date().toISOString(),
      size: image.layers.reduce((sum, r) => sum + r.size, 0),
      layers: c.diffIds,
      config: c.config,
      repoDigests: image.repoDigests,
    };
    commitImage(paths, tmp, record);
    return readImage(paths, image.id) ?? record;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
