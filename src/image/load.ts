// `cbox load`: images from a docker-archive (what `docker save` and `podman save` write:
// manifest.json, configs, layer tars) or an OCI image layout (index.json, blobs/sha256/...),
// offline. Each config's digest is its image id; each layer is unpacked as a pulled one is and
// checked against its diff_id (and in an OCI layout, its blob digest too).
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { parseImageConfig } from "./image-config.ts";
import { commitLayeredImage, storeLayers, unpackLayer } from "./layered-store.ts";
import { layersDir } from "./layers.ts";
import { formatRef, parseRef } from "./ref.ts";
import { CONFIG_LIMIT, MANIFEST_LIMIT, parseManifest } from "./registry/manifest.ts";
import { choosePlatform, hostPlatform } from "./registry/platform.ts";
import { readImage, recoverImageTemps, recoverTempsIn, setTag, withImageLock } from "./store.ts";
import { TarIndex } from "./tar-index.ts";
import { digestHex, sha256Digest } from "./digest.ts";
import { jitForBulkWork } from "../jit.ts";

export interface LoadedImage {
  id: string;
  /** The names it was saved under, as cbox reads them; empty when it came without. */
  tags: string[];
}

/** Layers unpacked at once: a local file, read from disk. */
const PARALLEL = 2;


export async function loadArchive(paths: Paths, file: string): Promise<LoadedImage[]> {
  jitForBulkWork();
  recoverImageTemps(paths);
  recoverTempsIn(layersDir(paths));
  const what = `cbox load ${file}`;
  const tar = TarIndex.read(file, what);
  if (tar.has("manifest.json")) return loadDockerArchive(paths, tar, what);
  if (tar.has("index.json")) return loadOciLayout(paths, tar, what);
  throw new CboxError(`${what}: neither a docker-archive (no manifest.json) nor an OCI image layout (no index.json)`);
}

interface ArchiveImage {
  configBytes: Uint8Array;
  manifest?: Uint8Array;
  /** Where each layer's bytes are in the archive, bottom first. */
  layerFiles: string[];
  /** OCI layouts only: each layer blob's digest. */
  layerDigests?: string[];
  tags: string[];
}

function json(bytes: Uint8Array, name: string, what: string): any {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new CboxError(`${what}: ${name} is not JSON`);
  }
}

async function loadDockerArchive(paths: Paths, tar: TarIndex, what: string): Promise<LoadedImage[]> {
  const entries = json(tar.readSmall("manifest.json", MANIFEST_LIMIT, what), "manifest.json", what);
  if (!Array.isArray(entries) || entries.length === 0) throw new CboxError(`${what}: manifest.json lists no image`);
  const images: ArchiveImage[] = entries.map((e: any) => {
    if (typeof e?.Config !== "string" || !Array.isArray(e.Layers) || !e.Layers.every((l: unknown) => typeof l === "string")) {
      throw new CboxError(`${what}: manifest.json has an entry without Config and Layers`);
    }
    const tags = Array.isArray(e.RepoTags) ? e.RepoTags.filter((t: unknown) => typeof t === "string") : [];
    return { configBytes: tar.readSmall(e.Config, CONFIG_LIMIT, what), layerFiles: e.Layers, tags };
  });
  const loaded: LoadedImage[] = [];
  for (const image of images) loaded.push(await storeArchiveImage(paths, tar, image, what));
  return loaded;
}

async function loadOciLayout(paths: Paths, tar: TarIndex, what: string): Promise<LoadedImage[]> {
  const blob = (digest: string, limit: number) => {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new CboxError(`${what}: ${digest} is not a sha256 digest`);
    const bytes = tar.readSmall(`blobs/sha256/${digest.slice(7)}`, limit, what);
    if (sha256Digest(bytes) !== digest) throw new CboxError(`${what}: blobs/sha256/${digest.slice(7)} does not match its digest; nothing was stored`);
    return bytes;
  };
  const index = json(tar.readSmall("index.json", MANIFEST_LIMIT, what), "index.json", what);
  const descriptors: any[] = Array.isArray(index?.manifests) ? index.manifests : [];
  if (descriptors.length === 0) throw new CboxError(`${what}: index.json lists no image`);
  const loaded: LoadedImage[] = [];
  for (const d of descriptors) {
    const annotations = d.annotations ?? {};
    let manifest = blob(String(d.digest), MANIFEST_LIMIT);
    let parsed = parseManifest(manifest, d.mediaType ?? null, what);
    if (parsed.kind === "index") {
      const chosen = choosePlatform(parsed.manifests, hostPlatform(), what);
      manifest = blob(chosen.digest, MANIFEST_LIMIT);
      parsed = parseManifest(manifest, chosen.mediaType, what);
      if (parsed.kind === "index") throw new CboxError(`${what}: an index lists another index; cbox follows one level`);
    }
    const image: ArchiveImage = {
      configBytes: blob(parsed.config.digest, CONFIG_LIMIT),
      manifest,
      layerFiles: parsed.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      layerDigests: parsed.layers.map((l) => l.digest),
      tags: ociNames(annotations),
    };
    loaded.push(await storeArchiveImage(paths, tar, image, what));
  }
  return loaded;
}

/**
 * An OCI layout names an image by annotations: containerd's (and docker's) full name, or OCI's
 * ref.name, which may be a whole reference or only a tag (then there is no name to give it).
 */
function ociNames(annotations: Record<string, unknown>): string[] {
  const full = annotations["io.containerd.image.name"];
  if (typeof full === "string") return [full];
  const ref = annotations["org.opencontainers.image.ref.name"];
  return typeof ref === "string" && /[/:]/.test(ref) ? [ref] : [];
}

async function storeArchiveImage(paths: Paths, tar: TarIndex, image: ArchiveImage, what: string): Promise<LoadedImage> {
  const id = digestHex(sha256Digest(image.configBytes));
  const config = parseImageConfig(image.configBytes, what);
  if (config.diffIds.length !== image.layerFiles.length) {
    throw new CboxError(`${what}: an image lists ${image.layerFiles.length} layers but its config ${config.diffIds.length}: refused`);
  }
  const refs = image.tags.map((t) => parseRef(t)); // a bad name fails before anything is stored
  await withImageLock(paths, id, async () => {
    if (readImage(paths, id)) return;
    const records = await storeLayers(
      paths,
      config.diffIds,
      (i) => unpackLayer(paths, { diffId: config.diffIds[i]!, digest: image.layerDigests?.[i], describe: `layer ${image.layerFiles[i]} of ${what}`, bytes: () => tar.stream(image.layerFiles[i]!, what) }),
      PARALLEL,
    );
    commitLayeredImage(paths, { id, configBytes: image.configBytes, config, manifest: image.manifest, source: `loaded from ${tar.path}`, repoDigests: [], layers: records });
  });
  for (const ref of refs) if (ref.tag !== undefined) setTag(paths, ref, id);
  return { id, tags: refs.filter((r) => r.tag !== undefined).map(formatRef) };
}
