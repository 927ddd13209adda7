// Pulling an image from an OCI registry: the manifest (through an index to this platform's),
// the config, and the layers, 3 at a time, each streamed into its folder as it downloads. Every
// digest is checked before anything is renamed into the store: the manifest's, the config's,
// each layer's compressed bytes and its tar stream (the config's diff_id).
import { warn } from "../cli/output.ts";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { parseImageConfig, type ImageConfig } from "./image-config.ts";
import { LayerProgress } from "./layer-progress.ts";
import { commitLayeredImage, storeLayers, unpackLayer } from "./layered-store.ts";
import { readLayer, type LayerRecord } from "./layers.ts";
import type { ProgressMode } from "./progress.ts";
import { formatRef, type ImageRef } from "./ref.ts";
import { DOCKER_HUB, formatRegistryRef, type RegistryRef } from "./reference.ts";
import { credentialsFor } from "./registry/credentials.ts";
import { hubMirrors, registryBase, RegistryClient } from "./registry/client.ts";
import { CONFIG_LIMIT, MANIFEST_ACCEPT, MANIFEST_LIMIT, parseManifest, type LayerDescriptor } from "./registry/manifest.ts";
import { choosePlatform, formatPlatform, hostPlatform, type Platform } from "./registry/platform.ts";
import { ATTEMPTS, readLimited, retryDelayMs } from "./registry/transport.ts";
import { addRepoDigest, readImage, setTag, taggedId, withImageLock, type ImageRecord } from "./store.ts";
import { digestHex, sha256Digest } from "./digest.ts";

export interface RegistryPullOptions {
  platform?: Platform;
  tlsVerify?: boolean;
  progress: ProgressMode;
  out: { write(s: string): unknown };
  env: Record<string, string | undefined>;
}

/** Layers downloading at once, as docker's max-concurrent-downloads. */
const PARALLEL = 3;


interface Fetched {
  client: RegistryClient;
  manifestDigest: string;
  manifest: Uint8Array;
  configBytes: Uint8Array;
  config: ImageConfig;
  layers: LayerDescriptor[];
}

export async function pullFromRegistry(paths: Paths, ref: ImageRef, opts: RegistryPullOptions): Promise<ImageRecord> {
  const remote = ref.remote!;
  const shown = formatRef(ref);
  const credentials = await credentialsFor(remote.registry, opts.env);
  const bases = remote.registry === DOCKER_HUB ? [...hubMirrors(opts.env), registryBase(remote.registry, opts.env)] : [registryBase(remote.registry, opts.env)];
  const platform = opts.platform ?? hostPlatform();
  let fetched: Fetched | undefined;
  for (const [i, base] of bases.entries()) {
    const client = new RegistryClient(remote.registry, remote.repository, base, { credentials: i < bases.length - 1 ? undefined : credentials, tlsVerify: opts.tlsVerify, env: opts.env });
    try {
      fetched = await fetchImage(client, remote, shown, platform);
      break;
    } catch (err) {
      if (i === bases.length - 1) throw err;
      warn(`the registry mirror ${new URL(base).host} failed (${(err as Error).message}); trying Docker Hub`);
    }
  }
  const f = fetched!;
  const id = digestHex(sha256Digest(f.configBytes));
  const progress = new LayerProgress(opts.progress, opts.out);
  const upToDate = taggedId(paths, ref) === id; // docker's word for a reference already naming this image
  const stored = await withImageLock(paths, id, async () => readImage(paths, id) ?? (await storeImage(paths, id, remote, f, progress)));
  const record = addRepoDigest(paths, id, `${familiarName(remote)}@${f.manifestDigest}`) ?? stored;
  if (ref.tag !== undefined) setTag(paths, ref, id);
  if (opts.progress !== "quiet") {
    opts.out.write(`Digest: ${f.manifestDigest}\nStatus: ${upToDate ? "Image is up to date" : "Downloaded newer image"} for ${shown}\n`);
  }
  return record;
}

async function fetchImage(client: RegistryClient, remote: RegistryRef, shown: string, platform: Platform): Promise<Fetched> {
  let { bytes, digest, contentType } = await fetchManifest(client, remote.digest ?? remote.tag!, shown, remote.digest);
  let parsed = parseManifest(bytes, contentType, shown);
  if (parsed.kind === "index") {
    const chosen = choosePlatform(parsed.manifests, platform, shown);
    ({ bytes, digest, contentType } = await fetchManifest(client, chosen.digest, shown, chosen.digest));
    parsed = parseManifest(bytes, contentType, shown);
    if (parsed.kind === "index") throw new CboxError(`${shown}: an index lists another index for ${formatPlatform(platform)}; cbox follows one level`);
  }
  const configBytes = await fetchBlobBytes(client, parsed.config.digest, parsed.config.size, `the config of ${shown}`);
  const config = parseImageConfig(configBytes, shown);
  if (config.diffIds.length !== parsed.layers.length) {
    throw new CboxError(`${shown}: the manifest lists ${parsed.layers.length} layers but the config ${config.diffIds.length}: refused`);
  }
  if (config.os && config.os !== "linux") throw new CboxError(`${shown} is a ${config.os} image: cbox runs Linux images only`);
  return { client, manifestDigest: digest, manifest: bytes, configBytes, config, layers: parsed.layers };
}

async function fetchManifest(client: RegistryClient, reference: string, shown: string, expected: string | undefined): Promise<{ bytes: Uint8Array; digest: string; contentType: string | null }> {
  const res = await client.get(`${client.repository}/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, `the manifest of ${shown}`);
  if (!res.ok) throw await refusal(res, client, shown);
  const bytes = await readLimited(res, MANIFEST_LIMIT, `the manifest of ${shown}`);
  const digest = sha256Digest(bytes);
  if (expected && digest !== expected) {
    throw new CboxError(`the manifest of ${shown} does not match its digest: asked for ${expected}, got ${digest}; nothing was stored`);
  }
  const header = res.headers.get("docker-content-digest");
  if (!expected && header?.startsWith("sha256:") && header !== digest) {
    throw new CboxError(`the manifest of ${shown} does not match the digest the registry gives for it (${header}, got ${digest}); nothing was stored`);
  }
  return { bytes, digest, contentType: res.headers.get("content-type") };
}

/** One line for a registry's no: unknown repository or tag, no access, or its HTTP status. */
async function refusal(res: Response, client: RegistryClient, shown: string): Promise<CboxError> {
  const codes = await errorCodes(res);
  const host = client.registry;
  if (res.status === 401 || res.status === 403 || codes.includes("DENIED") || codes.includes("UNAUTHORIZED")) {
    return new CboxError(`pull access denied for ${shown}: the repository does not exist or needs a login (cbox login ${host})`);
  }
  if (res.status === 404) {
    if (codes.includes("NAME_UNKNOWN")) return new CboxError(`no such image: ${shown} (${host} has no repository ${client.repository})`);
    // distribution answers MANIFEST_UNKNOWN for a missing repository too.
    return new CboxError(`no such image: ${shown} (${host} has no such repository, or no such tag or digest in it)`);
  }
  return new CboxError(`the registry ${host} answered HTTP ${res.status} for ${shown}`);
}

async function errorCodes(res: Response): Promise<string[]> {
  try {
    const body = await readLimited(res, 64 << 10, "the registry's error");
    const json = JSON.parse(new TextDecoder().decode(body)) as { errors?: { code?: string }[] };
    return (json.errors ?? []).map((e) => String(e.code));
  } catch {
    return [];
  }
}

async function fetchBlobBytes(client: RegistryClient, digest: string, size: number, what: string): Promise<Uint8Array> {
  if (size > CONFIG_LIMIT) throw new CboxError(`${what} is ${size} bytes, over cbox's limit of ${CONFIG_LIMIT}: refused`);
  const res = await client.get(`${client.repository}/blobs/${digest}`, {}, what);
  if (!res.ok) {
    await res.body?.cancel();
    throw new CboxError(`${what} (${digest}): the registry answered HTTP ${res.status}`);
  }
  const bytes = await readLimited(res, CONFIG_LIMIT, what);
  if (sha256Digest(bytes) !== digest) throw new CboxError(`${what} does not match its digest ${digest}; nothing was stored`);
  return bytes;
}

async function storeImage(paths: Paths, id: string, remote: RegistryRef, f: Fetched, progress: LayerProgress): Promise<ImageRecord> {
  const what = formatRegistryRef(remote);
  const diffIds = f.config.diffIds;
  // Shown by their blobs' short digests, as docker shows them.
  const diffIdOf = new Map(f.layers.map((l, i) => [l.digest, diffIds[i]!]));
  progress.start(f.layers.map((l) => l.digest), (digest) => readLayer(paths, diffIdOf.get(digest)!) !== undefined);
  const records = await storeLayers(paths, diffIds, (i) => downloadLayer(paths, f.client, f.layers[i]!, diffIds[i]!, what, progress), PARALLEL);
  const repoDigest = `${familiarName(remote)}@${f.manifestDigest}`;
  return commitLayeredImage(paths, { id, configBytes: f.configBytes, config: f.config, manifest: f.manifest, source: `${remote.registry}/${remote.repository}@${f.manifestDigest}`, repoDigests: [repoDigest], layers: records });
}

function familiarName(remote: RegistryRef): string {
  return remote.registry === DOCKER_HUB ? remote.repository.replace(/^library\//, "") : `${remote.registry}/${remote.repository}`;
}

/** The connection broke mid-layer: worth another try (a digest mismatch is not). */
class BrokenDownload extends CboxError {}

/** Downloads and unpacks one layer, again while the connection breaks (a digest mismatch is final). */
async function downloadLayer(paths: Paths, client: RegistryClient, layer: LayerDescriptor, diffId: string, what: string, progress: LayerProgress): Promise<LayerRecord> {
  const describe = `layer ${layer.digest} of ${what}`;
  const bytes = async () => {
    const res = await client.get(`${client.repository}/blobs/${layer.digest}`, {}, describe);
    if (!res.ok) {
      await res.body?.cancel();
      throw new CboxError(`${describe}: the registry answered HTTP ${res.status}; nothing was stored`);
    }
    return sizedBody(res, layer.size, describe, (n) => progress.advance(layer.digest, n, layer.size));
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const record = await unpackLayer(paths, { diffId, digest: layer.digest, describe, bytes });
      progress.complete(layer.digest);
      return record;
    } catch (err) {
      if (!(err instanceof BrokenDownload) || attempt >= ATTEMPTS) throw err;
      progress.restart(layer.digest);
      await Bun.sleep(retryDelayMs(attempt, null));
    }
  }
}

/** The body's chunks, refused past the manifest's size and when cut short of it. */
async function* sizedBody(res: Response, size: number, describe: string, onBytes: (n: number) => void): AsyncIterable<Uint8Array> {
  let seen = 0;
  try {
    for await (const chunk of res.body!) {
      seen += chunk.length;
      if (seen > size) throw new CboxError(`${describe} is larger than the ${size} bytes its manifest says; nothing was stored`);
      onBytes(chunk.length);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof CboxError) throw err;
    throw new BrokenDownload(`${describe}: the download broke off (${(err as Error).message}); nothing was stored`);
  }
  if (seen < size) throw new BrokenDownload(`${describe} was cut short: ${seen} of ${size} bytes; nothing was stored`);
}
