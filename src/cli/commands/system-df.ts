import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { diskUsage, formatDiskUsage } from "../../container/disk-usage.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "system df", description: "How much space images, containers and volumes take: cbox system df" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length) throw new CboxError(`cbox system df takes no operands (got ${a._[0]})`);
    writeSync(1, formatDiskUsage(diskUsage(storagePaths(a.root))));
    return 0;
  },
});
