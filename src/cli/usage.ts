// The usage (--help): citty's text, in colour only on a terminal, and never with NO_COLOR
// (no-color.org) or TERM=dumb; citty colours it wherever it goes.
import { renderUsage, type CommandDef } from "citty";
import { writeSync } from "node:fs";

export async function printUsage(cmd: CommandDef<any>, parent?: CommandDef<any>): Promise<void> {
  const text = await renderUsage(cmd, parent);
  writeSync(1, `${wantsColour(process.stdout.isTTY, process.env) ? text : withoutColour(text)}\n\n`);
}

export function wantsColour(isTTY: boolean | undefined, env: Record<string, string | undefined>): boolean {
  return !!isTTY && !env.NO_COLOR && env.TERM !== "dumb";
}

/** The text without its SGR sequences (colour, bold, underline). */
export function withoutColour(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}
