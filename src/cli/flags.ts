// Flag parsing in docker's manner: flags stop at the first operand (the container's command
// keeps its own flags), repeatable flags collect, short booleans combine (-it), unknown flags fail.
import type { ArgsDef } from "citty";
import { CboxError } from "../errors.ts";

/** citty's arg definitions plus `multiple` for flags that may be given many times (-e). */
export type FlagDefs = Record<string, ArgsDef[string] & { multiple?: boolean }>;

export interface ParsedFlags {
  flags: Record<string, string | boolean | string[] | undefined>;
  operands: string[];
}

/** A flag's other names (citty's alias: one name or a list). */
export function aliasesOf(def: FlagDefs[string]): string[] {
  return "alias" in def && def.alias ? [def.alias].flat() : [];
}

export function parseFlags(argv: string[], defs: FlagDefs, stopAtOperand: boolean): ParsedFlags {
  const byName = new Map<string, string>();
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    byName.set(name, name);
    for (const alias of aliasesOf(def)) byName.set(alias, name);
  }
  const flags: ParsedFlags["flags"] = {};
  const operands: string[] = [];
  const set = (name: string, value: string | boolean) => {
    const def = defs[name]!;
    if (def.multiple) flags[name] = [...((flags[name] as string[]) ?? []), String(value)];
    else flags[name] = value;
  };
  const lookup = (key: string, shown: string) => {
    const name = byName.get(key);
    if (!name) throw new CboxError(`unknown flag: ${shown}`);
    return name;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (stopAtOperand) {
        operands.push(...argv.slice(i));
        break;
      }
      operands.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const eq = arg.indexOf("=");
    if (long || eq === 2) {
      const key = long ? arg.slice(2, eq > 0 ? eq : undefined) : arg.slice(1, eq);
      const name = lookup(key, arg);
      const isBool = defs[name]!.type === "boolean";
      if (eq > 0) set(name, isBool ? parseBool(arg.slice(eq + 1), arg) : arg.slice(eq + 1));
      else if (isBool) set(name, true);
      else set(name, takeValue(argv, ++i, arg));
      continue;
    }
    // -abc: booleans combine; a flag that takes a value takes the rest or the next argument.
    for (let j = 1; j < arg.length; j++) {
      const name = lookup(arg[j]!, `-${arg[j]}`);
      if (defs[name]!.type === "boolean") {
        set(name, true);
        continue;
      }
      const rest = arg.slice(j + 1);
      set(name, rest ? rest : takeValue(argv, ++i, `-${arg[j]}`));
      break;
    }
  }
  return { flags, operands };
}

function takeValue(argv: string[], i: number, flag: string): string {
  const value = argv[i];
  if (value === undefined) throw new CboxError(`flag needs an argument: ${flag}`);
  return value;
}

function parseBool(value: string, flag: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new CboxError(`invalid boolean value for ${flag}: ${JSON.stringify(value)}`);
}

/** For the usage: citty prints every alias with one dash, so a long one (net) would read -net, which is no flag; it goes into the description as --net. */
export function usageFlags(defs: FlagDefs): FlagDefs {
  return Object.fromEntries(
    Object.entries(defs).map(([name, def]) => {
      const aliases = aliasesOf(def);
      const long = aliases.filter((a) => a.length > 1);
      if (long.length === 0) return [name, def];
      return [name, { ...def, alias: aliases.filter((a) => a.length === 1), description: `${def.description ?? ""} (also ${long.map((a) => `--${a}`).join(", ")})` }];
    }),
  );
}
