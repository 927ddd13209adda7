import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { rerunAsNamespaceRoot } from "../../container/files/container-side.ts";
import { containerChanges, formatChanges } from "../../container/files/diff.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "diff", description: "What a container changed in its files: A added, C changed, D deleted: cbox diff CONTAINER" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 1) throw new CboxError("cbox diff needs one container: cbox diff CONTAINER");
    const paths = storagePaths(a.root);
    const rerun = rerunAsNamespaceRoot(paths);
    if (rerun !== undefined) return rerun;
    writeSync(1, formatChanges(containerChanges(paths, a._[0]!)));
    return 0;
  },
});
