// Flag fragments shared by commands, and the parsed shape commands receive.
import type { FlagDefs } from "./flags.ts";

export const rootFlag = {
  root: { type: "string", description: "Storage root (default /var/lib/cbox, or ~/.local/share/cbox rootless; env CBOX_ROOT)" },
} satisfies FlagDefs;

type Value<D> = D extends { multiple: true } ? string[] : D extends { type: "boolean" } ? boolean : string;

/** What a command's run() gets: its flags by name, and the operands in `_`. */
export type CommandArgs<T extends FlagDefs> = { [K in keyof T]?: Value<T[K]> } & { _: string[] };

export const pullFlags = {
  arch: { type: "string", description: "Alpine image architecture (default: this machine's, e.g. x86_64, aarch64)" },
  mirror: { type: "string", description: "Alpine mirror (env CBOX_ALPINE_MIRROR; default the Alpine CDN)" },
  platform: { type: "string", description: "Registry image platform: OS/ARCH[/VARIANT] (default: this machine's, e.g. linux/amd64)" },
  "tls-verify": { type: "boolean", description: "Check registries' TLS certificates (default true; --tls-verify=false: also plain HTTP)" },
} satisfies FlagDefs;

/** What pulling needs from the flags of pull, run and create. */
export function pullOptionsOf(a: CommandArgs<typeof pullFlags>): { arch?: string; mirror?: string; platform?: string; tlsVerify?: boolean } {
  return { arch: a.arch, mirror: a.mirror, platform: a.platform, tlsVerify: a["tls-verify"] };
}
