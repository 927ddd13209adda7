import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { removeNetwork } from "../../container/network/manage.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "network rm", description: "Remove named networks no running container is on: cbox network rm NETWORK..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length === 0) throw new CboxError("cbox network rm needs at least one network");
    const paths = storagePaths(a.root);
    for (const ref of a._) {
      removeNetwork(paths, ref);
      writeSync(1, `${ref}\n`);
    }
    return 0;
  },
});
