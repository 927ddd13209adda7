import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { commands, groups } from "../command-table.ts";
import { completionScript } from "../completion.ts";
import type { CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "completion", description: "Print a shell completion script: cbox completion bash|zsh|fish (eval \"$(cbox completion bash)\")" },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 1) throw new CboxError("cbox completion needs one shell: bash, zsh or fish");
    writeSync(1, await completionScript(a._[0], commands, groups));
    return 0;
  },
});
