import { defineCommand } from "../define.ts";
import { stopContainers } from "../../container/signal.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  time: { type: "string", alias: "t", description: "Seconds from the stop signal to SIGKILL (default: the container's --stop-timeout, 10)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "stop", description: "Stop running containers: the stop signal (SIGTERM, or the image's), then SIGKILL: cbox stop [-t SECONDS] CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return stopContainers(a._, a.time, storagePaths(a.root));
  },
});
