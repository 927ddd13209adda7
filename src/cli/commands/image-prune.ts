import { defineCommand } from "../define.ts";
import { pruneImages } from "../../image/images.ts";
import { storagePaths } from "../../paths.ts";
import { CboxError } from "../../errors.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  all: { type: "boolean", alias: "a", description: "Remove every image no container uses, tagged or not" },
  force: { type: "boolean", alias: "f", description: "Do not ask (cbox never asks: accepted for docker's sake)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "image prune", description: "Remove images no tag names (-a: every image) and no container uses, and unused layers" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length) throw new CboxError(`cbox image prune takes no operands (got ${a._[0]})`);
    for (const line of pruneImages(storagePaths(a.root), !!a.all)) process.stdout.write(`${line}\n`);
    return 0;
  },
});
