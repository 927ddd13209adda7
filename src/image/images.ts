// Listing, tagging, inspecting and removing images; layers no image or container uses go with them.
import { humanDuration, table } from "../cli/output.ts";
import { containerStates } from "../container/ps.ts";
import { active } from "../container/status.ts";
import { containerDirs, readSpec } from "../container/store-read.ts";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { formatBytes } from "./progress.ts";
import { formatRef, parseRef } from "./ref.ts";
import { realpathSync } from "node:fs";
import { basename, dirname } from "node:path";
import { removeLayersExcept } from "./layers.ts";
import { imageNotFound, listImageIds, listTags, readImage, removeImageFiles, removeTag, setTag, taggedId, type ImageRecord } from "./store.ts";

export interface ImageRow {
  repository: string;
  tag: string;
  /** sha256:... of the manifest it was pulled by under this repository, or "<none>". */
  digest: string;
  id: string;
  created: string;
  size: number;
}

export function imageRows(paths: Paths): ImageRow[] {
  const tags = listTags(paths);
  const rows: ImageRow[] = [];
  for (const id of listImageIds(paths)) {
    const image = readImage(paths, id);
    if (!image) continue;
    const refs = tags.filter((t) => t.id === id).map((t) => t.ref);
    for (const ref of refs.length ? refs : [{ name: "<none>", tag: "<none>" }]) {
      const digest = image.repoDigests?.find((d) => d.startsWith(`${ref.name}@`))?.slice(ref.name.length + 1) ?? "<none>";
      rows.push({ repository: ref.name, tag: ref.tag ?? "<none>", digest, id, created: image.created, size: image.size });
    }
  }
  return rows.sort((a, b) => b.created.localeCompare(a.created) || a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag));
}

export function formatImages(rows: ImageRow[], format: string | undefined, opts: { digests?: boolean; now?: number } = {}): string {
  const now = opts.now ?? Date.now();
  if (format === "json") return rows.map((r) => JSON.stringify({ ...r, id: `sha256:${r.id}` })).join("\n") + (rows.length ? "\n" : "");
  if (format !== undefined && format !== "table") throw new CboxError(`--format ${JSON.stringify(format)}: use table or json`);
  const digest = (r: ImageRow) => (opts.digests ? [r.digest] : []);
  return table(
    ["REPOSITORY", "TAG", ...(opts.digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"],
    rows.map((r) => [r.repository, r.tag, ...digest(r), r.id.slice(0, 12), `${humanDuration(now - Date.parse(r.created))} ago`, formatBytes(r.size)]),
  );
}

/** `cbox tag SOURCE TARGET`: TARGET names SOURCE's image too. */
export function tagImage(paths: Paths, source: string, target: string): void {
  const { id } = resolveImage(paths, source);
  const ref = parseRef(target);
  if (ref.tag === undefined) throw new CboxError(`cbox tag ${target}: a tag cannot be a digest; give NAME[:TAG]`);
  setTag(paths, ref, id);
}

/** `cbox image inspect`: docker's shape, as far as cbox knows the image. */
export function inspectImage(paths: Paths, text: string): object {
  const { id } = resolveImage(paths, text);
  const image = readImage(paths, id)!;
  const [os, architecture, variant] = imagePlatform(image);
  const c = image.config ?? { Cmd: image.cmd };
  return {
    Id: `sha256:${id}`,
    RepoTags: listTags(paths).filter((t) => t.id === id).map((t) => formatRef(t.ref)),
    RepoDigests: image.repoDigests ?? [],
    Created: image.created,
    Size: image.size,
    Os: os,
    Architecture: architecture,
    ...(variant ? { Variant: variant } : {}),
    Config: {
      Env: c.Env ?? [],
      Cmd: c.Cmd ?? null,
      Entrypoint: c.Entrypoint ?? null,
      WorkingDir: c.WorkingDir ?? "",
      User: c.User ?? "",
      ExposedPorts: c.ExposedPorts?.length ? Object.fromEntries(c.ExposedPorts.map((p) => [p, {}])) : null,
      Volumes: c.Volumes?.length ? Object.fromEntries(c.Volumes.map((v) => [v, {}])) : null,
      StopSignal: c.StopSignal ?? "",
      Labels: c.Labels ?? null,
    },
    RootFS: { Type: "layers", ...(image.layers ? { Layers: image.layers } : {}) },
    Source: image.source,
  };
}

/** os, architecture, variant: "linux/arm64/v8" from a registry, an Alpine arch name from the mirror. */
function imagePlatform(image: ImageRecord): string[] {
  if (image.arch.includes("/")) return image.arch.split("/");
  const alpine: Record<string, string> = { x86_64: "amd64", aarch64: "arm64", armv7: "arm", armhf: "arm", x86: "386" };
  return ["linux", alpine[image.arch] ?? image.arch];
}

/**
 * `cbox image prune`: images without a tag that no container uses (-a: every image no container
 * uses), then the layers nothing uses.
 */
export function pruneImages(paths: Paths, all: boolean): string[] {
  const tagged = new Set(listTags(paths).map((t) => t.id));
  const inUse = new Set(containerStates(paths).map((s) => s.imageId));
  const out: string[] = [];
  for (const id of listImageIds(paths)) {
    if (inUse.has(id) || (!all && tagged.has(id))) continue;
    for (const t of listTags(paths).filter((t) => t.id === id)) {
      removeTag(paths, t.ref);
      out.push(`Untagged: ${formatRef(t.ref)}`);
    }
    removeImageFiles(paths, id);
    out.push(`Deleted: sha256:${id}`);
  }
  return [...out, ...pruneLayers(paths)];
}

/**
 * Removes the layers no image lists and no container's overlay stands on (a container keeps
 * its layers even when `rmi -f` took its image from under it).
 */
function pruneLayers(paths: Paths): string[] {
  const used = new Set(listImageIds(paths).flatMap((id) => readImage(paths, id)?.layers ?? []));
  for (const state of containerStates(paths)) {
    for (const layer of readSpec(containerDirs(paths, state.id).dir, state)?.layers ?? []) {
      const diffId = layerOfPath(layer);
      if (diffId) used.add(diffId);
    }
  }
  return removeLayersExcept(paths, used).map((d) => `Deleted: ${d}`);
}

/** layers/l/<short> or layers/<hex>/diff: the diff_id it stands for. */
function layerOfPath(path: string): string | undefined {
  try {
    const hex = basename(dirname(realpathSync(path)));
    return /^[0-9a-f]{64}$/.test(hex) ? `sha256:${hex}` : undefined;
  } catch {
    return undefined;
  }
}

/** The image id a reference (name[:tag], full id, or unique id prefix) names. */
export function resolveImage(paths: Paths, text: string): { id: string; tagged?: ReturnType<typeof parseRef> } {
  const bare = text.replace(/^sha256:/, "");
  if (/^[0-9a-f]{4,64}$/.test(bare)) {
    const matches = listImageIds(paths).filter((id) => id.startsWith(bare));
    if (matches.length === 1) return { id: matches[0]! };
    if (matches.length > 1) throw new CboxError(`"${text}" matches ${matches.length} images; give more of the id`);
  }
  const ref = parseRef(text);
  const id = taggedId(paths, ref);
  if (!id) throw imageNotFound(formatRef(ref));
  return { id, tagged: ref };
}

/** Containers whose root is this image: [id, running]. */
function containersUsing(paths: Paths, imageId: string): { id: string; running: boolean }[] {
  return containerStates(paths)
    .filter((state) => state.imageId === imageId)
    .map((state) => ({ id: state.id, running: active(state) }));
}

/**
 * `cbox rmi`: untags; the image itself goes once no tag points at it. Refused while a container
 * uses it; -f removes it from under stopped containers, never from under running ones.
 */
export function removeImages(paths: Paths, refs: string[], force: boolean): string[] {
  if (refs.length === 0) throw new CboxError("cbox rmi needs at least one image");
  const out: string[] = [];
  for (const text of refs) {
    const { id, tagged } = resolveImage(paths, text);
    const users = containersUsing(paths, id);
    const running = users.find((u) => u.running);
    if (running) throw new CboxError(`image ${text} is in use by running container ${running.id.slice(0, 12)}`);
    if (users.length && !force) throw new CboxError(`image ${text} is in use by container ${users[0]!.id.slice(0, 12)}; remove it first or use cbox rmi -f`);
    const tags = listTags(paths).filter((t) => t.id === id);
    const untag = tagged && !force ? [tagged] : tags.map((t) => t.ref);
    for (const ref of untag) {
      removeTag(paths, ref);
      out.push(`Untagged: ${formatRef(ref)}`);
    }
    if (listTags(paths).some((t) => t.id === id)) continue;
    removeImageFiles(paths, id);
    out.push(`Deleted: sha256:${id}`);
  }
  return [...out, ...pruneLayers(paths)];
}
