import { defineCommand } from "../define.ts";
import { rerunAsNamespaceRoot } from "../../container/files/container-side.ts";
import { exportContainer } from "../../container/files/export.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { writeArchive } from "../archive-output.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  output: { type: "string", alias: "o", description: "Write to this file instead of standard output" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "export", description: "A container's whole file system as a tar archive: cbox export [-o FILE] CONTAINER" },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 1) throw new CboxError("cbox export needs one container: cbox export [-o FILE] CONTAINER");
    const refusal = "cbox export writes a tar archive, and standard output is a terminal: give -o FILE or redirect it (cbox export CONTAINER > files.tar)";
    const paths = storagePaths(a.root);
    const rerun = rerunAsNamespaceRoot(paths);
    if (rerun !== undefined) return rerun;
    await writeArchive(a.output, refusal, (sink) => exportContainer(paths, a._[0]!, sink));
    return 0;
  },
});
