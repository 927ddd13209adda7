import { defineCommand } from "citty";
import { startContainers } from "../../container/start.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "start", description: "Start stopped containers again, in the background: cbox start CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return startContainers(a._, storagePaths(a.root));
  },
});
