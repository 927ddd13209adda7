// Image references: NAME[:TAG]. For alpine the tag picks a release: latest (latest stable),
// edge, a branch X.Y (its newest patch) or an exact version X.Y.Z.
import { CboxError } from "../errors.ts";

export interface ImageRef {
  name: string;
  tag: string;
}

export type AlpineRelease =
  | { kind: "latest-stable" }
  | { kind: "edge" }
  | { kind: "branch"; branch: string }
  | { kind: "exact"; branch: string; version: string };

const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function parseRef(text: string): ImageRef {
  const colon = text.lastIndexOf(":");
  const hasTag = colon > text.lastIndexOf("/");
  const name = hasTag ? text.slice(0, colon) : text;
  const tag = hasTag ? text.slice(colon + 1) : "latest";
  if (!NAME.test(name)) throw new CboxError(`invalid image name ${JSON.stringify(text)}: lowercase letters, digits and . _ - / only`);
  if (!TAG.test(tag)) throw new CboxError(`invalid image tag ${JSON.stringify(text)}`);
  return { name, tag };
}

export function formatRef(ref: ImageRef): string {
  return `${ref.name}:${ref.tag}`;
}

/** Which Alpine release a tag means, or undefined when the tag names none. */
export function alpineRelease(tag: string): AlpineRelease | undefined {
  if (tag === "latest") return { kind: "latest-stable" };
  if (tag === "edge") return { kind: "edge" };
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(tag);
  if (!m) return undefined;
  const branch = `v${m[1]}.${m[2]}`;
  return m[3] === undefined ? { kind: "branch", branch } : { kind: "exact", branch, version: tag };
}

/** The folder of the mirror a release lives in: latest-stable, edge or vX.Y. */
export function releaseFolder(release: AlpineRelease): string {
  return release.kind === "latest-stable" || release.kind === "edge" ? release.kind : release.branch;
}
