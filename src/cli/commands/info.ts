import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { gatherInfo } from "../../host/info.ts";
import { formatJson, formatText } from "../../host/report.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  format: { type: "string", description: "text (default) or json (one object)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "info", description: "What this host offers containers, and how to fix what is missing: cbox info [--format json]" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length) throw new CboxError(`cbox info takes no arguments (got "${a._[0]}")`);
    const format = a.format ?? "text";
    if (format !== "text" && format !== "json") throw new CboxError(`--format ${JSON.stringify(a.format)}: use text or json`);
    const info = gatherInfo(a.root, process.env);
    writeSync(1, format === "json" ? formatJson(info) : formatText(info));
    return 0;
  },
});
