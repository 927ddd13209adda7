// `cbox save`: images into one tar that both formats read, as docker 25 writes it: an OCI image
// layout (oci-layout, index.json, blobs/sha256/...) and docker-archive's manifest.json naming
// the same blobs. Layers are written again from their folders (uncompressed), so their
// diff_ids, and with them the config and the image id, are new unless the bytes come out the
// same; what runs is the same.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Paths } from "../paths.ts";
import { resolveImage } from "./images.ts";
import { layerDiff, readLayer } from "./layers.ts";
import { writeLayerTar } from "./layer-tar.ts";
import { formatRef } from "./ref.ts";
import { MediaType } from "./registry/manifest.ts";
import { hostPlatform } from "./registry/platform.ts";
import { imageRootfs, imagesDir, readImage, type ImageRecord } from "./store.ts";
import { TarWriter } from "./tar-writer.ts";
import { sha256Digest } from "./digest.ts";
import { jitForBulkWork } from "../jit.ts";

const LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";

interface Blob {
  digest: string;
  size: number;
  /** On disk (a layer), or in memory. */
  file?: string;
  bytes?: Uint8Array;
}

interface SavedImage {
  names: string[];
  config: Blob;
  manifest: Blob;
  layers: Blob[];
}

const inMemory = (bytes: Uint8Array): Blob => ({ digest: sha256Digest(bytes), size: bytes.length, bytes });

/** Writes the images named by refs (NAME[:TAG] or ids) to sink, as one tar. */
export async function saveImages(paths: Paths, refs: string[], sink: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
  jitForBulkWork();
  const work = join(imagesDir(paths), `.tmp-${process.pid}-save`);
  mkdirSync(work, { recursive: true, mode: 0o700 });
  try {
    const images: SavedImage[] = [];
    for (const text of refs) {
      const { id, tagged } = resolveImage(paths, text);
      images.push(await saveOne(paths, readImage(paths, id)!, tagged ? [formatRef(tagged)] : [], work));
    }
    await writeArchive(images, sink);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function saveOne(paths: Paths, image: ImageRecord, names: string[], work: string): Promise<SavedImage> {
  const sources = image.layers
    ? image.layers.map((diffId) => ({ dir: layerDiff(paths, diffId), opaque: readLayer(paths, diffId)?.opaque ?? [] }))
    : [{ dir: imageRootfs(paths, image.id), opaque: [] }];
  const layers: Blob[] = [];
  for (const [i, source] of sources.entries()) layers.push(await layerBlob(source, join(work, `${image.id}-${i}.tar`)));
  const config = inMemory(new TextEncoder().encode(JSON.stringify(configFor(paths, image, layers.map((l) => l.digest)))));
  const manifest = inMemory(
    new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: LAYER_TAR, digest: l.digest, size: l.size })),
      }),
    ),
  );
  return { names, config, manifest, layers };
}

/** One layer's tar in a file of the work folder, hashed as it is written. */
async function layerBlob(source: { dir: string; opaque: string[] }, file: string): Promise<Blob> {
  const hasher = new Bun.CryptoHasher("sha256");
  const fd = openSync(file, "wx", 0o600);
  let size = 0;
  try {
    const tar = new TarWriter((chunk) => {
      hasher.update(chunk);
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
      size += chunk.length;
    });
    const userAsRoot = process.getuid!() === 0 ? undefined : process.getuid!();
    await writeLayerTar(tar, source.dir, { opaque: source.opaque, userAsRoot });
    await tar.finish();
  } finally {
    closeSync(fd);
  }
  return { digest: `sha256:${hasher.digest("hex")}`, size, file };
}

/** The image's own config with the new layers' diff_ids; one made up for Alpine's and imported images. */
function configFor(paths: Paths, image: ImageRecord, diffIds: string[]): Record<string, unknown> {
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(join(imagesDir(paths), image.id, "config.json"), "utf8"));
  } catch {
    const platform = image.arch.includes("/") ? { os: "linux", architecture: image.arch.split("/")[1] } : hostPlatform();
    config = { architecture: platform.architecture, os: "linux", created: image.created, config: image.cmd ? { Cmd: image.cmd } : {} };
  }
  return { ...config, rootfs: { type: "layers", diff_ids: diffIds } };
}

async function writeArchive(images: SavedImage[], sink: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
  const tar = new TarWriter(sink);
  const header = (name: string, size?: number) => ({ name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, ...(size !== undefined && { size }) });
  await tar.add({ ...header("blobs/"), mode: 0o755, type: "directory" });
  await tar.add({ ...header("blobs/sha256/"), mode: 0o755, type: "directory" });
  const written = new Set<string>();
  for (const blob of images.flatMap((i) => [...i.layers, i.config, i.manifest])) {
    if (written.has(blob.digest)) continue;
    written.add(blob.digest);
    const name = `blobs/sha256/${blob.digest.slice(7)}`;
    if (blob.file) await tar.addFile({ ...header(name), size: blob.size }, blob.file);
    else await tar.add(header(name), blob.bytes!);
  }
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: images.flatMap((i) =>
      (i.names.length ? i.names : [undefined]).map((name) => ({
        mediaType: MediaType.ociManifest,
        digest: i.manifest.digest,
        size: i.manifest.size,
        ...(name && { annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.slice(name.lastIndexOf(":") + 1) } }),
      })),
    ),
  };
  const manifest = images.map((i) => ({ Config: `blobs/sha256/${i.config.digest.slice(7)}`, RepoTags: i.names, Layers: i.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) }));
  await tar.add(header("index.json"), JSON.stringify(index));
  await tar.add(header("manifest.json"), JSON.stringify(manifest));
  await tar.add(header("oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await tar.finish();
}
