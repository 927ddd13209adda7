import { defineCommand } from "../define.ts";
import { CboxError } from "../../errors.ts";
import { connectContainer } from "../../container/network/connect.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  alias: { type: "string", multiple: true, description: "Another name the container has on this network" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "network connect", description: "Connect a running container to a named network (eth1, ...): cbox network connect [--alias NAME] NETWORK CONTAINER" },
  args,
  run(ctx) {
    const a = ctx.args as unknown as CommandArgs<typeof args>; // citty's types know no repeated flags
    if (a._.length !== 2) throw new CboxError("cbox network connect needs a network and a container: cbox network connect NETWORK CONTAINER");
    connectContainer(storagePaths(a.root), a._[0]!, a._[1]!, a.alias ?? []);
    return 0;
  },
});
