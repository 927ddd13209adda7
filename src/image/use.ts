// The image of `cbox run IMAGE`: found in the store without loading the pull code (tar, gzip,
// http: ~14 ms of every start), which is imported only when the image must be pulled.
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import type { PullOptions } from "./pull.ts";
import { parseRef } from "./ref.ts";
import { imageRootfs, readImage, taggedId, type ImageRecord } from "./store.ts";

/** The image's root folder, its use, and the command to run (the image's own when none is given). */
export async function imageForRun(
  paths: Paths,
  operands: string[],
  /** Called only when the image must be pulled (making them touches process.stderr: ~17 ms). */
  pullOptions: () => PullOptions,
): Promise<{ rootfs: string; image: { ref: string; id: string }; command: string[] }> {
  const [ref, ...command] = operands;
  if (!ref) throw new CboxError("no image given: cbox run [FLAGS] IMAGE [CMD...], or --rootfs DIR CMD...");
  const image = storedImage(paths, ref) ?? (await (await import("./pull.ts")).ensureImage(paths, ref, pullOptions()));
  return { rootfs: imageRootfs(paths, image.id), image: { ref, id: image.id }, command: command.length ? command : (image.cmd ?? []) };
}

function storedImage(paths: Paths, text: string): ImageRecord | undefined {
  const id = taggedId(paths, parseRef(text));
  return id ? readImage(paths, id) : undefined;
}
