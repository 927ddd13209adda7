// citty's defineCommand, which only returns its argument: importing it from citty would load
// citty, and citty loads node:util (~0.4 ms of every start, measured). citty is loaded only to
// print a usage (usage.ts).
import type { ArgsDef, CommandDef } from "citty";

export function defineCommand<const T extends ArgsDef = ArgsDef>(def: CommandDef<T>): CommandDef<T> {
  return def;
}
