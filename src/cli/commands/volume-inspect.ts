import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { inspectVolumes } from "../../container/volume-commands.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "volume inspect", description: "Show volumes as JSON: cbox volume inspect VOLUME..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    writeSync(1, `${JSON.stringify(inspectVolumes(storagePaths(a.root), a._), null, 2)}\n`);
    return 0;
  },
});
