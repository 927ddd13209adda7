import { defineCommand } from "../define.ts";
import { waitContainers } from "../../container/wait.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "wait", description: "Wait for containers to end and print their exit codes: cbox wait CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return waitContainers(a._, storagePaths(a.root));
  },
});
