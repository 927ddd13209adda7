import { defineCommand } from "../define.ts";
import { pauseContainers } from "../../container/pause.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "unpause", description: "Thaw the processes of paused containers: cbox unpause CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return pauseContainers(a._, false, storagePaths(a.root));
  },
});
