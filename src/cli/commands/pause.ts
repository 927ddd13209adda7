import { defineCommand } from "../define.ts";
import { pauseContainers } from "../../container/pause.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "pause", description: "Freeze every process of running containers: cbox pause CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return pauseContainers(a._, true, storagePaths(a.root));
  },
});
