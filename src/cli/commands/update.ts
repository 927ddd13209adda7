import { defineCommand } from "../define.ts";
import { updateContainers } from "../../container/update.ts";
import { storagePaths } from "../../paths.ts";
import { resourceFlags, resourceOptionsOf, rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag, ...resourceFlags } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "update", description: "Change containers' limits (running ones at once): cbox update [FLAGS] CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return updateContainers(a._, resourceOptionsOf(a), storagePaths(a.root));
  },
});
