import { defineCommand } from "../define.ts";
import { importImage } from "../../image/pull.ts";
import { storagePaths } from "../../paths.ts";
import { CboxError } from "../../errors.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "import", description: "Make an image of a root filesystem archive: cbox import FILE.tar[.gz] NAME[:TAG]" },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 2) throw new CboxError("cbox import takes a file and a name: cbox import FILE.tar[.gz] NAME[:TAG]");
    const image = await importImage(storagePaths(a.root), a._[0]!, a._[1]!);
    process.stdout.write(`sha256:${image.id}\n`);
    return 0;
  },
});
