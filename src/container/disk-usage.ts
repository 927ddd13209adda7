// What the storage root holds, as `cbox system df` shows it (docker's TYPE TOTAL ACTIVE SIZE
// RECLAIMABLE table) and the prune commands count it: bytes of file content, each file once.
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { table } from "../cli/output.ts";
import { readLayer } from "../image/layers.ts";
import { listImageIds, readImage } from "../image/store.ts";
import type { Paths } from "../paths.ts";
import { listVolumes, volumeUsers } from "./volume-store.ts";
import { containerStates } from "./ps.ts";
import { humanSize } from "./stats-format.ts";
import { liveState } from "./status.ts";
import { containerDirs } from "./store-read.ts";
import type { ContainerState } from "./store.ts";

/** Bytes of the files under path, a file with several names counted once; what cannot be read counts nothing. */
export function treeBytes(path: string, seen = new Set<string>()): number {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 0;
  }
  if (st.isDirectory()) {
    let names: string[] = [];
    try {
      names = readdirSync(path);
    } catch {
      // a folder closed to us (a rootless container's, owned by one of its ids)
    }
    return names.reduce((sum, name) => sum + treeBytes(join(path, name), seen), 0);
  }
  if (!st.isFile() && !st.isSymbolicLink()) return 0;
  const key = `${st.dev}:${st.ino}`;
  if (seen.has(key)) return 0;
  seen.add(key);
  return st.size;
}

/** What a container wrote (its upper layer): docker's SizeRw. */
export function containerBytes(paths: Paths, id: string): number {
  return treeBytes(containerDirs(paths, id).upper);
}

/** Bytes of the images' content: every layer once however many images share it. */
export function imageBytes(paths: Paths, ids: string[] = listImageIds(paths)): number {
  const layers = new Set<string>();
  let bytes = 0;
  for (const id of ids) {
    const image = readImage(paths, id);
    if (!image) continue;
    if (!image.layers) bytes += image.size;
    for (const diffId of image.layers ?? []) {
      if (layers.has(diffId)) continue;
      layers.add(diffId);
      bytes += readLayer(paths, diffId)?.size ?? 0;
    }
  }
  return bytes;
}

interface Usage {
  type: string;
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

export function diskUsage(paths: Paths): Usage[] {
  const states = containerStates(paths);
  const images = listImageIds(paths);
  const usedImages = images.filter((id) => states.some((s) => s.imageId === id));
  const running = states.filter((s) => liveState(s) === "running");
  const sizes = new Map(states.map((s) => [s.id, containerBytes(paths, s.id)]));
  const sum = (list: ContainerState[]) => list.reduce((n, s) => n + sizes.get(s.id)!, 0);
  const allImages = imageBytes(paths, images);
  return [
    { type: "Images", total: images.length, active: usedImages.length, size: allImages, reclaimable: allImages - imageBytes(paths, usedImages) },
    { type: "Containers", total: states.length, active: running.length, size: sum(states), reclaimable: sum(states.filter((s) => !running.includes(s))) },
    volumeUsage(paths),
    { type: "Build Cache", total: 0, active: 0, size: 0, reclaimable: 0 },
  ];
}

/** The volumes (named and anonymous), and which of them a container, running or not, has. */
function volumeUsage(paths: Paths): Usage {
  const users = volumeUsers(paths);
  const volumes = listVolumes(paths).map((v) => ({ bytes: treeBytes(v.mountpoint), used: users.has(v.name) }));
  const bytes = (list: typeof volumes) => list.reduce((n, v) => n + v.bytes, 0);
  return { type: "Local Volumes", total: volumes.length, active: volumes.filter((v) => v.used).length, size: bytes(volumes), reclaimable: bytes(volumes.filter((v) => !v.used)) };
}

/** docker's table: RECLAIMABLE with its share of SIZE when there is any. */
export function formatDiskUsage(rows: Usage[]): string {
  const reclaimable = (r: Usage) => (r.size > 0 ? `${humanSize(r.reclaimable)} (${Math.floor((r.reclaimable * 100) / r.size)}%)` : humanSize(r.reclaimable));
  return table(
    ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
    rows.map((r) => [r.type, String(r.total), String(r.active), humanSize(r.size), reclaimable(r)]),
  );
}
