// Getting images into the store: pulled from an Alpine mirror, or imported from a local archive.
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { warn } from "../cli/output.ts";
import { CboxError } from "../errors.ts";
import { jitForBulkWork } from "../jit.ts";
import type { Paths } from "../paths.ts";
import { unpackArchive, type ArchiveResult } from "./archive.ts";
import { imageArch } from "./arch.ts";
import { httpGet, networkReason } from "./http.ts";
import { mirrorBase, resolveAlpine, type RemoteImage } from "./mirror.ts";
import { createProgress, type ProgressMode } from "./progress.ts";
import { layersDir } from "./layers.ts";
import { alpineRelease, parseRef, type ImageRef } from "./ref.ts";
import { pullFromRegistry } from "./registry-pull.ts";
import { parsePlatform } from "./registry/platform.ts";
import {
  commitImage,
  newTempDir,
  readImage,
  recoverImageTemps,
  recoverTempsIn,
  setTag,
  withImageLock,
  type ImageRecord,
} from "./store.ts";

export interface PullOptions {
  arch?: string;
  mirror?: string;
  /** --platform for registry images (default: this host's). */
  platform?: string;
  /** --tls-verify=false */
  tlsVerify?: boolean;
  progress: ProgressMode;
  /** Where progress goes: stdout for `cbox pull`, stderr for `cbox run`. */
  out: { write(s: string): unknown };
}

const asRoot = () => process.getuid!() === 0;

/** `cbox pull`: alpine[:TAG] from the Alpine mirror, anything else from its registry. */
export async function pullImage(paths: Paths, text: string, opts: PullOptions): Promise<ImageRecord> {
  jitForBulkWork();
  const ref = parseRef(text);
  recoverImageTemps(paths);
  if (ref.remote) {
    recoverTempsIn(layersDir(paths));
    const platform = opts.platform !== undefined ? parsePlatform(opts.platform) : undefined;
    return pullFromRegistry(paths, ref, { platform, tlsVerify: opts.tlsVerify, progress: opts.progress, out: opts.out, env: process.env });
  }
  const tag = ref.tag!;
  const release = alpineRelease(tag);
  if (!release) throw new CboxError(`alpine:${tag}: not an Alpine release (latest, edge, X.Y or X.Y.Z)`);
  const arch = imageArch(opts.arch);
  const remote = await resolveAlpine(mirrorBase(opts.mirror), release, arch, tag);
  const record = await withImageLock(paths, remote.sha256, async () => readImage(paths, remote.sha256) ?? download(paths, remote, arch, ref, opts));
  setTag(paths, ref, record.id);
  return record;
}

async function download(paths: Paths, remote: RemoteImage, arch: string, ref: ImageRef, opts: PullOptions): Promise<ImageRecord> {
  const label = `alpine:${ref.tag} (${remote.version}, ${arch})`;
  const res = await httpGet(remote.url);
  const total = Number(res.headers.get("content-length")) || undefined;
  const progress = createProgress(opts.progress, opts.out, label, total);
  const result = await intoStore(paths, `${remote.url}`, bodyChunks(res, remote.url), {
    onBytes: (n) => progress.advance(n),
    check: (r) => {
      if (r.sha256 !== remote.sha256) {
        throw new CboxError(`checksum mismatch for ${remote.url}: the mirror says sha256 ${remote.sha256}, the download is ${r.sha256}; nothing was stored`);
      }
    },
    record: (r) => ({
      id: r.sha256,
      source: remote.url,
      arch,
      version: remote.version,
      created: remote.date ?? new Date().toISOString(),
      size: r.bytes,
      cmd: ["/bin/sh"],
    }),
  });
  progress.finish();
  return result;
}

async function* bodyChunks(res: Response, url: string): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of res.body!) yield chunk;
  } catch (err) {
    throw new CboxError(`download of ${url} broke off: ${networkReason(err)}; nothing was stored`);
  }
}

/** `cbox import FILE NAME[:TAG]`: a local .tar or .tar.gz root filesystem becomes an image. */
export async function importImage(paths: Paths, file: string, text: string): Promise<ImageRecord> {
  jitForBulkWork();
  const ref = parseRef(text);
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) throw new CboxError(`cbox import: ${file}: no such file`);
  recoverImageTemps(paths);
  const record = await intoStore(paths, file, Bun.file(file).stream(), {
    check: (_, rootfs) => refuseImageArchive(file, rootfs),
    record: (r) => ({ id: r.sha256, source: `import ${file}`, arch: imageArch(), created: new Date().toISOString(), size: r.bytes }),
  });
  setTag(paths, ref, record.id);
  return record;
}

/**
 * import takes a root file system; a `docker save` archive or an OCI layout unpacked would make
 * an image whose root holds manifest.json and layer blobs. Those are what `cbox load` reads.
 */
function refuseImageArchive(file: string, rootfs: string): void {
  const has = (name: string) => existsSync(join(rootfs, name));
  if (has("oci-layout") || (has("manifest.json") && (has("repositories") || has("blobs") || manifestListsLayers(join(rootfs, "manifest.json"))))) {
    throw new CboxError(`cbox import: ${file} is an image archive (docker save or an OCI layout), not a root file system: load it with cbox load -i ${file}`);
  }
}

function manifestListsLayers(path: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    return Array.isArray(manifest) && manifest.some((m) => Array.isArray(m?.Layers));
  } catch {
    return false;
  }
}

/** Unpacks into a temp folder, checks, and stores; on any failure nothing stays behind. */
async function intoStore(
  paths: Paths,
  describe: string,
  source: AsyncIterable<Uint8Array>,
  how: { onBytes?: (n: number) => void; check?: (r: ArchiveResult, rootfs: string) => void; record: (r: ArchiveResult) => ImageRecord },
): Promise<ImageRecord> {
  const tmp = newTempDir(paths);
  try {
    const result = await unpackArchive(source, join(tmp, "rootfs"), { asRoot: asRoot(), onBytes: how.onBytes, describe });
    how.check?.(result, join(tmp, "rootfs"));
    const n = result.skippedDevices;
    if (n) warn(`${n} device node${n === 1 ? " was" : "s were"} skipped in ${describe}: only root can create them`);
    const record = how.record(result);
    const existing = readImage(paths, record.id);
    if (existing) {
      rmSync(tmp, { recursive: true, force: true });
      return existing;
    }
    commitImage(paths, tmp, record);
    return readImage(paths, record.id) ?? record;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
