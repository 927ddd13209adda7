import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { pruneVolumes } from "../../container/volume-commands.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import { confirm } from "../confirm.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  all: { type: "boolean", alias: "a", description: "Named volumes too (default: anonymous ones only, as docker 23+)" },
  force: { type: "boolean", alias: "f", description: "Do not ask for confirmation (needed without a terminal)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "volume prune", description: "Remove the anonymous volumes (-a: every volume) no container uses" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length) throw new CboxError(`cbox volume prune takes no operands (got ${a._[0]})`);
    const which = a.all ? "every volume, named or anonymous," : "every anonymous volume";
    if (!a.force && !confirm(`WARNING! This removes ${which} that no container (running or stopped) uses.\nGo ahead? [y/N] `, "-f")) return 0;
    writeSync(1, pruneVolumes(storagePaths(a.root), !!a.all));
    return 0;
  },
});
