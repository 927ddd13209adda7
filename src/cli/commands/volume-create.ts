import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { parseLabels } from "../../container/spec.ts";
import { createNamedVolume } from "../../container/volume-commands.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  label: { type: "string", multiple: true, description: "A label for the volume: KEY=VALUE (repeatable)" },
  driver: { type: "string", alias: "d", description: "The volume driver: local, the only one cbox has" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "volume create", description: "Make a named volume: cbox volume create [--label K=V] [NAME] (no name: a random one)" },
  args,
  run(context) {
    const a = context.args as unknown as CommandArgs<typeof args>; // citty's own type has no repeatable flags
    if (a._.length > 1) throw new CboxError(`cbox volume create takes at most one name (got ${a._.length})`);
    if (a.driver !== undefined && a.driver !== "local") throw new CboxError(`--driver ${JSON.stringify(a.driver)}: cbox has only the local driver`);
    const labels = parseLabels(a.label ?? []);
    writeSync(1, `${createNamedVolume(storagePaths(a.root), a._[0], labels)}\n`);
    return 0;
  },
});
