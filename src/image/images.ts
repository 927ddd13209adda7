// Listing and removing images.
import { humanDuration, table } from "../cli/output.ts";
import { listContainerIds, readState, containerDirs } from "../container/store.ts";
import { CboxError } from "../errors.ts";
import { isSameProcess } from "../linux/proc.ts";
import type { Paths } from "../paths.ts";
import { formatBytes } from "./progress.ts";
import { formatRef, parseRef } from "./ref.ts";
import { imageNotFound, listImageIds, listTags, readImage, removeImageFiles, removeTag, taggedId } from "./store.ts";

export interface ImageRow {
  repository: string;
  tag: string;
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
      rows.push({ repository: ref.name, tag: ref.tag, id, created: image.created, size: image.size });
    }
  }
  return rows.sort((a, b) => b.created.localeCompare(a.created) || a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag));
}

export function formatImages(rows: ImageRow[], format: string | undefined, now = Date.now()): string {
  if (format === "json") return rows.map((r) => JSON.stringify({ ...r, id: `sha256:${r.id}` })).join("\n") + (rows.length ? "\n" : "");
  if (format !== undefined && format !== "table") throw new CboxError(`--format ${JSON.stringify(format)}: use table or json`);
  return table(
    ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
    rows.map((r) => [r.repository, r.tag, r.id.slice(0, 12), `${humanDuration(now - Date.parse(r.created))} ago`, formatBytes(r.size)]),
  );
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
  return listContainerIds(paths).flatMap((id) => {
    const state = readState(containerDirs(paths, id).dir);
    if (state?.imageId !== imageId) return [];
    const running = state.status !== "exited" && isSameProcess(state.owner.pid, state.owner.startTime);
    return [{ id, running }];
  });
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
  return out;
}
