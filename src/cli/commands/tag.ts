import { defineCommand } from "../define.ts";
import { tagImage } from "../../image/images.ts";
import { storagePaths } from "../../paths.ts";
import { CboxError } from "../../errors.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "tag", description: "Give an image another name: cbox tag SOURCE TARGET" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    const [source, target, ...extra] = a._;
    if (!source || !target || extra.length) throw new CboxError("cbox tag needs a SOURCE image and a TARGET name: cbox tag SOURCE[:TAG] TARGET[:TAG]");
    tagImage(storagePaths(a.root), source, target);
    return 0;
  },
});
