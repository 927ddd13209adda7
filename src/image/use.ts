// The image of `cbox run IMAGE`: found in the store without loading the pull code (tar, gzip,
// http: ~14 ms of every start), which is imported only when the image must be pulled.
import { join } from "node:path";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { commandFor, type RunConfig } from "./image-config.ts";
import { layerLink, layersDir } from "./layers.ts";
import type { PullOptions } from "./pull.ts";
import { parseRef } from "./ref.ts";
import { imageRootfs, readImage, taggedId, type ImageRecord } from "./store.ts";

export interface ImageForRun {
  /** The topmost layer's folder (a flat image's only one). */
  rootfs: string;
  /** The overlay's lower folders, topmost first. */
  layers: string[];
  image: { ref: string; id: string };
  command: string[];
  /** Env, WorkingDir, User and the rest, as the image sets them. */
  config: RunConfig;
}

/** The image's folders, its use, and the command to run (docker's rules with the image's Entrypoint and Cmd). */
export async function imageForRun(
  paths: Paths,
  operands: string[],
  entrypoint: string | undefined,
  /** Called only when the image must be pulled (making them touches process.stderr: ~17 ms). */
  pullOptions: () => PullOptions,
  policy: PullPolicy = "missing",
): Promise<ImageForRun> {
  const [ref, ...args] = operands;
  if (!ref) throw new CboxError("no image given: cbox run [FLAGS] IMAGE [CMD...], or --rootfs DIR CMD...");
  const stored = policy === "always" ? undefined : storedImage(paths, ref);
  if (!stored && policy === "never") throw new CboxError(`${ref} is not in cbox's store, and --pull never forbids pulling it: cbox pull ${ref} first`);
  const image = stored ?? (await (await import("./pull.ts")).pullImage(paths, ref, pullOptions()));
  const config = image.config ?? { Cmd: image.cmd };
  if (image.layers?.length === 0) throw new CboxError(`${ref} has no layers: there is nothing to run`);
  const layers = image.layers ? image.layers.map((d) => join(layersDir(paths), layerLink(d))).reverse() : [imageRootfs(paths, image.id)];
  return { rootfs: layers[0]!, layers, image: { ref, id: image.id }, command: commandFor(config, args, entrypoint), config };
}

/** --pull: when run pulls its image (docker's policies). */
export type PullPolicy = "missing" | "always" | "never";

export function parsePullPolicy(value: string | undefined): PullPolicy {
  if (value === undefined || value === "missing" || value === "always" || value === "never") return value ?? "missing";
  throw new CboxError(`--pull ${JSON.stringify(value)}: expected missing (the default), always or never`);
}

function storedImage(paths: Paths, text: string): ImageRecord | undefined {
  const id = taggedId(paths, parseRef(text));
  return id ? readImage(paths, id) : undefined;
}
