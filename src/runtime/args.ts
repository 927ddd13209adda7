// runc's flag syntax (Go's flag package): -name or --name, a value as the next word or after "=",
// flags before operands. The engines pass exactly this; citty's parser reads it differently
// (global flags before the command would be taken for the command).
import { CboxError } from "../errors.ts";

/** Each flag a command takes: a switch, one that takes a value, or one given any number of times. */
export type FlagSpec = Record<string, "bool" | "value" | "list">;

export type Flags = Record<string, string | boolean | string[]>;

/** Flags until the first operand (or "--"); the operands after it as they are. */
export function parseRuncArgs(argv: string[], spec: FlagSpec): { flags: Flags; rest: string[] } {
  const flags: Flags = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") {
      i++;
      break;
    }
    if (!word.startsWith("-") || word === "-") break;
    const body = word.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const kind = spec[name];
    if (!kind) throw new CboxError(`unknown flag ${word.slice(0, word.length - body.length)}${name}`);
    if (kind === "bool") {
      const value = eq < 0 ? "true" : body.slice(eq + 1);
      if (value !== "true" && value !== "false") throw new CboxError(`--${name}=${value}: use true or false`);
      flags[name] = value === "true";
    } else {
      const value = eq >= 0 ? body.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new CboxError(`--${name} needs a value`);
      flags[name] = kind === "list" ? [...((flags[name] as string[] | undefined) ?? []), value] : value;
    }
  }
  return { flags, rest: argv.slice(i) };
}
