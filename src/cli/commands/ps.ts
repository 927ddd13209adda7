import { defineCommand } from "citty";
import { writeSync } from "node:fs";
import { containerStates, formatPs } from "../../container/ps.ts";
import { recoverStaleStore } from "../../container/remove.ts";
import { liveState } from "../../container/status.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  all: { type: "boolean", alias: "a", description: "Show every container (default: the running ones)" },
  quiet: { type: "boolean", alias: "q", description: "Only container ids" },
  format: { type: "string", description: "table (default) or json (one object a line)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "ps", description: "List containers: cbox ps [-a] [-q] [--format json]" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    const paths = storagePaths(a.root);
    recoverStaleStore(paths);
    const states = containerStates(paths).filter((s) => a.all || liveState(s) === "running");
    writeSync(1, a.quiet ? states.map((s) => `${s.id.slice(0, 12)}\n`).join("") : formatPs(states, a.format));
    return 0;
  },
});
