import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { findNetwork } from "../../container/network/named.ts";
import { inspectNetwork } from "../../container/network/manage.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "network inspect", description: "Show named networks as JSON, with the containers on them: cbox network inspect NETWORK..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length === 0) throw new CboxError("cbox network inspect needs at least one network");
    const paths = storagePaths(a.root);
    const nets = a._.map((ref) => inspectNetwork(paths, findNetwork(paths, ref)));
    writeSync(1, `${JSON.stringify(nets, null, 2)}\n`);
    return 0;
  },
});
