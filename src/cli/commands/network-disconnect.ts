import { defineCommand } from "../define.ts";
import { CboxError } from "../../errors.ts";
import { disconnectContainer } from "../../container/network/connect.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  force: { type: "boolean", alias: "f", description: "Accepted for docker's sake" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "network disconnect", description: "Take a running container off a named network it was connected to: cbox network disconnect NETWORK CONTAINER" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 2) throw new CboxError("cbox network disconnect needs a network and a container: cbox network disconnect NETWORK CONTAINER");
    disconnectContainer(storagePaths(a.root), a._[0]!, a._[1]!);
    return 0;
  },
});
