import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { inspectObject } from "../../container/ps.ts";
import { recoverStaleStore, resolveContainer } from "../../container/remove.ts";
import { containerDirs, readSpec, readState } from "../../container/store.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "inspect", description: "Show containers as JSON: cbox inspect CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    const paths = storagePaths(a.root);
    if (a._.length === 0) throw new CboxError("cbox inspect needs at least one container");
    recoverStaleStore(paths);
    const objects = a._.map((ref) => {
      const dir = containerDirs(paths, resolveContainer(paths, ref)).dir;
      const state = readState(dir)!;
      return inspectObject(state, readSpec(dir, state));
    });
    writeSync(1, `${JSON.stringify(objects, null, 2)}\n`);
    return 0;
  },
});
