import { defineCommand } from "../define.ts";
import { restartContainers } from "../../container/restart.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";
import { args as stopArgs } from "./stop.ts";

export const args = { ...rootFlag, time: stopArgs.time } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "restart", description: "Stop containers, then start them again: cbox restart [-t SECONDS] CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return restartContainers(a._, a.time, storagePaths(a.root));
  },
});
