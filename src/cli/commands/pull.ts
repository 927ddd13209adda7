import { defineCommand } from "../define.ts";
import { pullImage } from "../../image/pull.ts";
import { parseRef } from "../../image/ref.ts";
import { formatRegistryRef } from "../../image/reference.ts";
import { storagePaths } from "../../paths.ts";
import { CboxError } from "../../errors.ts";
import { pullFlags, pullOptionsOf, rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  ...pullFlags,
  quiet: { type: "boolean", alias: "q", description: "Print only the image's name (Alpine's: its id)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "pull", description: "Download an image: cbox pull nginx, ghcr.io/org/app:1.2, alpine[:latest|edge|X.Y|X.Y.Z] (Alpine's own)" },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 1) throw new CboxError("cbox pull takes one image, e.g. cbox pull alpine:3.20");
    const progress = a.quiet ? "quiet" : process.stdout.isTTY ? "bar" : "lines";
    const image = await pullImage(storagePaths(a.root), a._[0]!, { ...pullOptionsOf(a), progress, out: process.stdout });
    // As docker: a registry image's full name last (alone with -q); Alpine's images keep their id.
    const { remote } = parseRef(a._[0]!);
    process.stdout.write(remote ? `${formatRegistryRef(remote)}\n` : `sha256:${image.id}\n`);
    return 0;
  },
});
