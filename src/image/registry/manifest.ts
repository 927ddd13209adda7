// Image manifests as registries serve them: OCI index and manifest, Docker manifest list and
// schema 2. Schema 1 (signed, long deprecated) is refused. Parsed strictly: whatever cbox later
// trusts (digests, sizes, media types) is checked here.
import { CboxError } from "../../errors.ts";
import type { Platform } from "./platform.ts";

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
} as const;

/** What cbox asks a registry for, in its order of preference. */
export const MANIFEST_ACCEPT = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest].join(", ");

/** Manifests and indexes over 4 MiB are refused (as containerd does); configs over 8 MiB. */
export const MANIFEST_LIMIT = 4 << 20;
export const CONFIG_LIMIT = 8 << 20;

export type Compression = "gzip" | "zstd" | "none";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

export interface LayerDescriptor extends Descriptor {
  compression: Compression;
}

export type Parsed = { kind: "index"; manifests: Descriptor[] } | { kind: "manifest"; config: Descriptor; layers: LayerDescriptor[] };

const LAYER_TYPES: Record<string, Compression> = {
  "application/vnd.oci.image.layer.v1.tar": "none",
  "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
  "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
  "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
};
const FOREIGN_LAYER = /nondistributable|foreign/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Parses a manifest or index; `what` names it in messages ("nginx:latest"). */
export function parseManifest(bytes: Uint8Array, contentType: string | null, what: string): Parsed {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new CboxError(`the manifest of ${what} is not JSON`);
  }
  if (!doc || typeof doc !== "object") throw new CboxError(`the manifest of ${what} is not a JSON object`);
  const mediaType = (typeof doc.mediaType === "string" && doc.mediaType) || (contentType ?? "").split(";")[0]!.trim() || guessType(doc);
  if (mediaType === MediaType.dockerSchema1 || mediaType === MediaType.dockerSchema1Signed || doc.schemaVersion === 1) {
    throw new CboxError(`${what} is a Docker schema 1 image, which cbox does not pull (deprecated since 2017: push it again with a current docker, podman or skopeo)`);
  }
  if (mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList) {
    return { kind: "index", manifests: list(doc.manifests, what, "manifests").map((d) => descriptor(d, what, true)) };
  }
  if (mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest) {
    const config = descriptor(doc.config, what, false);
    if (config.mediaType !== MediaType.ociConfig && config.mediaType !== MediaType.dockerConfig) {
      throw new CboxError(`${what} is not a container image (its config is ${config.mediaType})`);
    }
    const layers = list(doc.layers, what, "layers").map((d) => layerDescriptor(descriptor(d, what, false), what));
    return { kind: "manifest", config, layers };
  }
  throw new CboxError(`the manifest of ${what} has the media type ${JSON.stringify(mediaType)}, which is not an image`);
}

/** Old registries leave mediaType out of the body: tell by the shape. */
function guessType(doc: Record<string, unknown>): string {
  if (Array.isArray(doc.manifests)) return MediaType.ociIndex;
  if (doc.config) return MediaType.ociManifest;
  return "";
}

function list(value: unknown, what: string, field: string): unknown[] {
  if (!Array.isArray(value)) throw new CboxError(`the manifest of ${what} has no ${field} list`);
  return value;
}

function descriptor(value: unknown, what: string, withPlatform: boolean): Descriptor {
  const d = value as Record<string, unknown> | null;
  if (!d || typeof d !== "object") throw new CboxError(`the manifest of ${what} has a descriptor that is not an object`);
  const { mediaType, digest, size } = d;
  if (typeof digest !== "string" || !DIGEST.test(digest)) throw new CboxError(`the manifest of ${what} has a digest cbox cannot check: ${JSON.stringify(digest)} (only sha256)`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw new CboxError(`the manifest of ${what} has a bad size for ${digest}`);
  if (typeof mediaType !== "string") throw new CboxError(`the manifest of ${what} has no media type for ${digest}`);
  const out: Descriptor = { mediaType, digest, size };
  const p = d.platform as Record<string, unknown> | undefined;
  if (withPlatform && p && typeof p.os === "string" && typeof p.architecture === "string") {
    out.platform = { os: p.os, architecture: p.architecture, variant: typeof p.variant === "string" ? p.variant : undefined };
  }
  return out;
}

function layerDescriptor(d: Descriptor, what: string): LayerDescriptor {
  const compression = LAYER_TYPES[d.mediaType];
  if (compression) return { ...d, compression };
  if (FOREIGN_LAYER.test(d.mediaType)) throw new CboxError(`${what} has a foreign layer (${d.mediaType}, Windows images): cbox runs Linux images only`);
  throw new CboxError(`${what} has a layer of media type ${JSON.stringify(d.mediaType)}, which cbox cannot unpack`);
}
