import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { removeVolumes } from "../../container/volume-commands.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  force: { type: "boolean", alias: "f", description: "A volume that does not exist is no error (one a container uses is still refused, as docker)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "volume rm", description: "Remove volumes no container uses: cbox volume rm [-f] VOLUME..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    removeVolumes(storagePaths(a.root), a._, !!a.force);
    writeSync(1, [...new Set(a._)].map((name) => `${name}\n`).join(""));
    return 0;
  },
});
