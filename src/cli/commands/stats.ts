import { defineCommand } from "../define.ts";
import { showStats } from "../../container/stats.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  "no-stream": { type: "boolean", description: "Print one reading and end (default: a new one every second until Ctrl-C)" },
  format: { type: "string", description: "table (default) or json (one object a line)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "stats", description: "Containers' CPU, memory, network, block I/O and processes: cbox stats [--no-stream] [--format json] [CONTAINER...] (default: the running ones)" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return showStats(a._, { noStream: !!a["no-stream"], format: a.format }, storagePaths(a.root));
  },
});
