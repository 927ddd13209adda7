import { defineCommand } from "../define.ts";
import { parseTail, showLogs } from "../../container/logs.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  follow: { type: "boolean", alias: "f", description: "Keep printing new output until the container ends" },
  tail: { type: "string", description: "Only the last N lines (default: all)" },
  timestamps: { type: "boolean", alias: "t", description: "Start each line with the time it was written" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "logs", description: "Print a detached container's output: cbox logs [-f] [--tail N] [-t] CONTAINER" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 1) throw new CboxError("cbox logs needs one container");
    const opts = { follow: !!a.follow, tail: parseTail(a.tail), timestamps: !!a.timestamps };
    return showLogs(storagePaths(a.root), a._[0]!, opts);
  },
});
