import { defineCommand } from "citty";
import { pullImage } from "../../image/pull.ts";
import { storagePaths } from "../../paths.ts";
import { CboxError } from "../../errors.ts";
import { pullFlags, rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  ...pullFlags,
  quiet: { type: "boolean", alias: "q", description: "Print only the image id" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "pull", description: "Download an Alpine image: cbox pull alpine[:latest|edge|X.Y|X.Y.Z]" },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 1) throw new CboxError("cbox pull takes one image, e.g. cbox pull alpine:3.20");
    const progress = a.quiet ? "quiet" : process.stdout.isTTY ? "bar" : "lines";
    const image = await pullImage(storagePaths(a.root), a._[0]!, { arch: a.arch, mirror: a.mirror, progress, out: process.stdout });
    process.stdout.write(`sha256:${image.id}\n`);
    return 0;
  },
});
