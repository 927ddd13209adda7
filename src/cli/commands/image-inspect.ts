import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { inspectImage } from "../../image/images.ts";
import { storagePaths } from "../../paths.ts";
import { CboxError } from "../../errors.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "image inspect", description: "Show images as JSON: cbox image inspect IMAGE..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length === 0) throw new CboxError("cbox image inspect needs at least one image");
    const paths = storagePaths(a.root);
    writeSync(1, `${JSON.stringify(a._.map((ref) => inspectImage(paths, ref)), null, 2)}\n`);
    return 0;
  },
});
