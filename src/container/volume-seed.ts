// Filling a new (empty) volume with what the image has at its path, as docker does: the
// image's layers, topmost last to win, owners kept (shifted for --userns=private).
import { lchownSync, lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CboxError } from "../errors.ts";
import { isWhiteout, opaqueFolders } from "../image/layers.ts";

/**
 * Copies into data (an empty folder) what the image's layers (topmost first) show at path,
 * owned as there, shifted by `shift` (the host ids of the container's root, for
 * --userns=private). data takes the owner of the image's folder, else the container's root.
 */
export function seedVolume(data: string, path: string, layers: string[], shift?: { uid: number; gid: number }): void {
  let copied = false;
  for (const layer of [...layers].reverse()) copied = copyLayerPath(layer, path, data) || copied;
  if (!shift) return;
  // Everything in it was copied from the image; data itself may have been someone's already.
  for (const name of readdirSync(data)) shiftOwners(join(data, name), shift);
  const st = lstatSync(data);
  lchownSync(data, (copied ? st.uid : 0) + shift.uid, (copied ? st.gid : 0) + shift.gid);
}

/** Whether dir is a folder with nothing in it (one that cannot be read is taken as full). */
export function isEmptyFolder(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

/** One layer's share of the path, over what the layers below put there; whether it had a folder there. */
function copyLayerPath(layer: string, path: string, dest: string): boolean {
  const rel = path.slice(1);
  const parts = rel.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const st = lstatSync(join(layer, ...parts.slice(0, i)), { throwIfNoEntry: false });
    if (!st) return false; // this layer has nothing there
    if (isWhiteout(st)) {
      clear(dest); // the path (or a folder above it) deleted here
      return false;
    }
    if (!st.isDirectory()) return false; // a file or link in the folder's place: docker copies folders only
  }
  const opaque = opaqueFolders(layer);
  if (parts.some((_, i) => opaque.has(parts.slice(0, i + 1).join("/")))) clear(dest);
  for (const o of opaque) if (o.startsWith(`${rel}/`)) rmSync(join(dest, o.slice(rel.length + 1)), { recursive: true, force: true });
  const copy = Bun.spawnSync(["cp", "-a", "--", `${join(layer, rel)}/.`, `${dest}/`], { stderr: "pipe" });
  if (copy.exitCode !== 0) throw new CboxError(`cannot fill the volume for ${path} from the image: ${copy.stderr.toString().trim()}`);
  removeWhiteouts(dest);
  return true;
}

function clear(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** A whiteout copied in stands where a lower layer's file was: both go. */
function removeWhiteouts(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (isWhiteout(st)) rmSync(path);
    else if (st.isDirectory()) removeWhiteouts(path);
  }
}

function shiftOwners(path: string, by: { uid: number; gid: number }): void {
  const st = lstatSync(path);
  lchownSync(path, st.uid + by.uid, st.gid + by.gid);
  if (st.isDirectory()) for (const name of readdirSync(path)) shiftOwners(join(path, name), by);
}
