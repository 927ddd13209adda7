import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { pruneContainers } from "../../container/prune.ts";
import { CboxError } from "../../errors.ts";
import { pruneReport } from "../../container/stats-format.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";
import { confirm } from "../confirm.ts";

export const args = {
  ...rootFlag,
  force: { type: "boolean", alias: "f", description: "Do not ask (needed when standard input is not a terminal)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "container prune", description: "Remove every stopped container: cbox container prune [-f]" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length) throw new CboxError(`cbox container prune takes no operands (got ${a._[0]})`);
    if (!a.force && !confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ", "-f")) return 0;
    const { removed, bytes } = pruneContainers(storagePaths(a.root));
    writeSync(1, pruneReport([["Deleted Containers", removed]], bytes));
    return 0;
  },
});
