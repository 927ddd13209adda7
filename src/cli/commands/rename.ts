import { defineCommand } from "../define.ts";
import { renameContainer } from "../../container/rename.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "rename", description: "Give a container a new name: cbox rename CONTAINER NEW_NAME" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return renameContainer(a._, storagePaths(a.root));
  },
});
