import { defineCommand } from "../define.ts";
import { CboxError } from "../../errors.ts";
import { saveImages } from "../../image/save.ts";
import { storagePaths } from "../../paths.ts";
import { writeArchive } from "../archive-output.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  output: { type: "string", alias: "o", description: "Write to this file instead of standard output" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "save", description: "Save images to a tar that docker load, podman load and OCI tools read: cbox save -o FILE IMAGE..." },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length === 0) throw new CboxError("cbox save needs at least one image: cbox save -o FILE IMAGE...");
    const paths = storagePaths(a.root);
    const refusal = "cbox save writes a tar archive, and standard output is a terminal: give -o FILE or redirect it (cbox save IMAGE > image.tar)";
    await writeArchive(a.output, refusal, (sink) => saveImages(paths, a._, sink));
    return 0;
  },
});
