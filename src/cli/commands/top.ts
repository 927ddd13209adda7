import { defineCommand } from "../define.ts";
import { topContainer } from "../../container/top.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "top", description: "A container's processes, as the host's ps shows them: cbox top CONTAINER [ps OPTIONS] (default -ef)" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return topContainer(a._, storagePaths(a.root));
  },
});
