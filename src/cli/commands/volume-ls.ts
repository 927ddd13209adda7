import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { formatVolumes } from "../../container/volume-commands.ts";
import { listVolumes } from "../../container/volume-store.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  quiet: { type: "boolean", alias: "q", description: "Only volume names" },
  format: { type: "string", description: "table (default) or json (one object a line)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "volume ls", description: "List volumes: cbox volume ls [-q] [--format json]" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length) throw new CboxError(`cbox volume ls takes no operands (got ${a._[0]})`);
    writeSync(1, formatVolumes(listVolumes(storagePaths(a.root)), a.format, !!a.quiet));
    return 0;
  },
});
