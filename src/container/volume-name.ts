// Volume names: docker's rule for the ones users give, 64 hex digits for anonymous ones.
import type { Volume } from "./spec.ts";

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
export const VOLUME_NAME_RULE = "two or more of a-z A-Z 0-9 _ . -, the first a letter or digit";

export function isVolumeName(name: string): boolean {
  return VOLUME_NAME.test(name);
}

/** A random 64-hex name, as docker gives anonymous volumes. */
export function newVolumeName(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
}

/** The store volume a container's mount is, if it is one (a bound host path is not). */
export function volumeNameOf(v: Volume): string | undefined {
  // Anonymous volumes made by an older cbox have no name field: their folder is volumes/NAME/_data.
  return v.name ?? (v.anonymous ? v.source.split("/").at(-2) : undefined);
}
