import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import { NAME_KINDS, namesOf, type NameKind } from "../names.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

/** Internal: what completion scripts offer after a command (hidden from --help). */
export default defineCommand({
  meta: { name: "_names", description: "Print the names of containers, images, networks or volumes, one a line" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    const kind = a._[0] as NameKind;
    if (a._.length !== 1 || !NAME_KINDS.includes(kind)) throw new CboxError(`cbox _names needs one of ${NAME_KINDS.join(", ")}`);
    writeSync(1, namesOf(kind, storagePaths(a.root)).map((n) => `${n}\n`).join(""));
    return 0;
  },
});
