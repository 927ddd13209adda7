import { defineCommand } from "../define.ts";
import { killContainers } from "../../container/signal.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  signal: { type: "string", alias: "s", description: "Signal to send (default KILL)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "kill", description: "Send a signal to containers' PID 1: cbox kill [-s SIGNAL] CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return killContainers(a._, a.signal, storagePaths(a.root));
  },
});
