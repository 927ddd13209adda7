// Image references as cbox's commands take them. For alpine from the mirror the tag picks a
// release: latest (latest stable), edge, a branch X.Y (its newest patch) or an exact version X.Y.Z.
import { DOCKER_HUB, familiarRegistryRef, parseRegistryRef, type RegistryRef } from "./reference.ts";

export interface ImageRef {
  /**
   * The name the store and `cbox images` use: alpine (the mirror's), nginx, user/app,
   * ghcr.io/org/app, docker.io/library/alpine (Docker Hub's alpine, kept apart from the mirror's).
   */
  name: string;
  /** undefined only for a reference by digest alone (nginx@sha256:...). */
  tag?: string;
  digest?: string;
  /** Where it is pulled from; undefined for alpine from the Alpine mirror. */
  remote?: RegistryRef;
}

export type AlpineRelease =
  | { kind: "latest-stable" }
  | { kind: "edge" }
  | { kind: "branch"; branch: string }
  | { kind: "exact"; branch: string; version: string };

/**
 * A reference as docker reads it (see reference.ts), with the design card's one exception:
 * `alpine[:TAG]` written just so comes from the Alpine mirror; docker.io/library/alpine from the registry.
 */
export function parseRef(text: string): ImageRef {
  const remote = parseRegistryRef(text);
  if (/^alpine(?::[^@]*)?$/.test(text)) return { name: "alpine", tag: remote.tag };
  const familiar = familiarRegistryRef({ ...remote, tag: undefined, digest: undefined });
  const name = familiar === "alpine" ? `${DOCKER_HUB}/library/alpine` : familiar;
  return { name, tag: remote.tag, digest: remote.digest, remote };
}

/** name:tag, or name@digest for a reference by digest alone. */
export function formatRef(ref: ImageRef): string {
  return ref.tag !== undefined ? `${ref.name}:${ref.tag}` : `${ref.name}@${ref.digest}`;
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
