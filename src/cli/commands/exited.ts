import { defineCommand } from "../define.ts";
import { recordExit } from "../../container/exited.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

/** Internal: run by a detached container's monitor, not by people (hidden from --help). */
export default defineCommand({
  meta: { name: "_exited", description: "Record the end of a detached container (run by its monitor)" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 1 || !/^[0-9a-f]{64}$/.test(a._[0]!)) throw new CboxError("cbox _exited needs one full container id");
    return recordExit(storagePaths(a.root), a._[0]!);
  },
});
