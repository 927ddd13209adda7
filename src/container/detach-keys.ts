// --detach-keys: the input that leaves an attached container running, in docker's notation.
import { CboxError } from "../errors.ts";

export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";
/** The longest sequence the relay holds back (stdio.c's MAX_KEYS). */
const MAX_KEYS = 32;

/** "ctrl-p,ctrl-q", "a,b", "ctrl-@": each key a character, or ctrl- with a-z, @, [, \, ], ^ or _. */
export function parseDetachKeys(value: string | undefined): Uint8Array {
  const text = value === undefined || value === "" ? DEFAULT_DETACH_KEYS : value;
  const keys = text.split(",").map((key) => {
    if (key.length === 1 && key.charCodeAt(0) < 128) return key.charCodeAt(0);
    const ctrl = /^ctrl-([a-zA-Z@[\\\]^_])$/.exec(key)?.[1];
    if (ctrl !== undefined) return ctrl.charCodeAt(0) & 0x1f;
    throw new CboxError(`--detach-keys ${JSON.stringify(value)}: ${JSON.stringify(key)} is not a key; give characters or ctrl-X (X: a-z, @, [, \\, ], ^ or _), comma-separated`);
  });
  if (keys.length > MAX_KEYS) throw new CboxError(`--detach-keys: at most ${MAX_KEYS} keys`);
  return new Uint8Array(keys);
}
