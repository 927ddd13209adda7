// Images on disk, content-addressed by the sha256 of the archive they came from:
//   images/<sha256>/rootfs      the unpacked root, never written after it is stored
//   images/<sha256>/image.json  what it is and where it came from
//   images/tags/<name:tag>      the id a tag points to (one file a tag, replaced atomically)
// New images are unpacked under images/.tmp-<pid>-*, then renamed into place; a lock file per
// id makes concurrent pulls of one image download it once.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CboxError } from "../errors.ts";
import { isSameProcess, processStartTime } from "../linux/proc.ts";
import type { Paths } from "../paths.ts";
import { writeAtomic } from "../files.ts";
import type { RunConfig } from "./image-config.ts";
import { formatRef, type ImageRef } from "./ref.ts";

export interface ImageRecord {
  id: string;
  source: string;
  arch: string;
  version?: string;
  /** When the image was built (from the mirror) or stored. */
  created: string;
  /** Bytes of file content unpacked. */
  size: number;
  /** The command run when none is given (alpine: /bin/sh, as docker's alpine). */
  cmd?: string[];
  /** A registry image's layers (diff_ids, bottom first, in layers/); others have images/<id>/rootfs. */
  layers?: string[];
  /** A registry image's run config (Entrypoint, Cmd, Env...). */
  config?: RunConfig;
  /** NAME@sha256:... of the manifests it was pulled by. */
  repoDigests?: string[];
}

export function imagesDir(paths: Paths): string {
  return join(paths.root, "images");
}

export function imageRootfs(paths: Paths, id: string): string {
  return join(imagesDir(paths), id, "rootfs");
}

function tagFile(paths: Paths, ref: ImageRef): string {
  return join(imagesDir(paths), "tags", encodeURIComponent(formatRef(ref)));
}

export function readImage(paths: Paths, id: string): ImageRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(imagesDir(paths), id, "image.json"), "utf8")) as ImageRecord;
  } catch {
    return undefined;
  }
}

/** The id a reference names: its tag's, or by digest the image pulled by that manifest. */
export function taggedId(paths: Paths, ref: ImageRef): string | undefined {
  if (ref.digest) {
    const wanted = `${ref.name}@${ref.digest}`;
    return listImageIds(paths).find((id) => readImage(paths, id)?.repoDigests?.includes(wanted));
  }
  try {
    const id = readFileSync(tagFile(paths, ref), "utf8").trim();
    return readImage(paths, id) ? id : undefined;
  } catch {
    return undefined;
  }
}

export function setTag(paths: Paths, ref: ImageRef, id: string): void {
  mkdirSync(join(imagesDir(paths), "tags"), { recursive: true, mode: 0o755 });
  writeAtomic(tagFile(paths, ref), `${id}\n`);
}

export function removeTag(paths: Paths, ref: ImageRef): void {
  rmSync(tagFile(paths, ref), { force: true });
}

/** Every tag with the id it points to. */
export function listTags(paths: Paths): { ref: ImageRef; id: string }[] {
  const dir = join(imagesDir(paths), "tags");
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => !n.includes(".tmp-")) : [];
  return names.flatMap((file) => {
    const text = decodeURIComponent(file);
    const colon = text.lastIndexOf(":");
    const id = readFileSync(join(dir, file), "utf8").trim();
    return [{ ref: { name: text.slice(0, colon), tag: text.slice(colon + 1) }, id }];
  });
}

export function listImageIds(paths: Paths): string[] {
  const dir = imagesDir(paths);
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
}

/** A fresh folder to unpack into; commitImage or discardTemp ends it. */
export function newTempDir(paths: Paths): string {
  mkdirSync(imagesDir(paths), { recursive: true, mode: 0o755 });
  const dir = join(imagesDir(paths), `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(dir, "rootfs"), { recursive: true, mode: 0o755 });
  return dir;
}

/** Moves a finished temp folder into place; if another cbox stored the same image first, ours goes. */
export function commitImage(paths: Paths, tmp: string, record: ImageRecord): void {
  writeFileSync(join(tmp, "image.json"), JSON.stringify(record, null, 2) + "\n");
  try {
    renameSync(tmp, join(imagesDir(paths), record.id));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Records that the image was also pulled by this NAME@digest. */
export function addRepoDigest(paths: Paths, id: string, repoDigest: string): ImageRecord | undefined {
  const record = readImage(paths, id);
  if (!record || record.repoDigests?.includes(repoDigest)) return record;
  const updated = { ...record, repoDigests: [...(record.repoDigests ?? []), repoDigest] };
  writeAtomic(join(imagesDir(paths), id, "image.json"), JSON.stringify(updated, null, 2) + "\n");
  return updated;
}

export function removeImageFiles(paths: Paths, id: string): void {
  rmSync(join(imagesDir(paths), id), { recursive: true, force: true });
}

/** Runs fn holding the lock of one image id; waits while another live cbox holds it. */
export function withImageLock<T>(paths: Paths, id: string, fn: () => Promise<T>): Promise<T> {
  return withLockIn(imagesDir(paths), id, fn);
}

/** Runs fn holding DIR/.lock-NAME; waits while another live cbox holds it. */
export async function withLockIn<T>(dir: string, name: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, `.lock-${name}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const me = `${process.pid} ${processStartTime(process.pid) ?? ""}`;
  for (;;) {
    try {
      writeFileSync(lock, me, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (!lockHolderAlive(lock)) rmSync(lock, { force: true });
      else await Bun.sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

function lockHolderAlive(lock: string): boolean {
  try {
    const text = readFileSync(lock, "utf8");
    if (!text) return true; // created, its owner not yet written
    const [pid, start] = text.split(" ");
    return isSameProcess(Number(pid), start ?? "");
  } catch {
    return true; // written but not yet readable, or just removed: look again
  }
}

/** Removes temp folders and locks of cbox processes that are gone (killed mid-pull). */
export function recoverImageTemps(paths: Paths): void {
  recoverTempsIn(imagesDir(paths));
}

export function recoverTempsIn(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const tmp = /^\.tmp-(\d+)-/.exec(name);
    if (tmp && !processStartTime(Number(tmp[1]))) rmSync(join(dir, name), { recursive: true, force: true });
    if (name.startsWith(".lock-") && !lockHolderAlive(join(dir, name))) rmSync(join(dir, name), { force: true });
  }
}

export function imageNotFound(ref: string): CboxError {
  return new CboxError(`no such image: ${ref}`);
}
