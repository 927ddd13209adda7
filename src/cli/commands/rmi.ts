import { defineCommand } from "../define.ts";
import { removeImages } from "../../image/images.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  force: { type: "boolean", alias: "f", description: "Remove even if stopped containers use it, and every tag of it" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "rmi", description: "Remove images: cbox rmi [-f] IMAGE..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    for (const line of removeImages(storagePaths(a.root), a._, !!a.force)) process.stdout.write(`${line}\n`);
    return 0;
  },
});
