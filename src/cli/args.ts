// Flag fragments shared by commands, and the parsed shape commands receive.
import type { FlagDefs } from "./flags.ts";

export const rootFlag = {
  root: { type: "string", description: "Storage root (default /var/lib/cbox, or ~/.local/share/cbox rootless; env CBOX_ROOT)" },
} satisfies FlagDefs;

type Value<D> = D extends { multiple: true } ? string[] : D extends { type: "boolean" } ? boolean : string;

/** What a command's run() gets: its flags by name, and the operands in `_`. */
export type CommandArgs<T extends FlagDefs> = { [K in keyof T]?: Value<T[K]> } & { _: string[] };

export const pullFlags = {
  arch: { type: "string", description: "Image architecture (default: this machine's, e.g. x86_64, aarch64)" },
  mirror: { type: "string", description: "Alpine mirror (env CBOX_ALPINE_MIRROR; default the Alpine CDN)" },
} satisfies FlagDefs;
