import { defineCommand } from "citty";
import { startContainers, startRestartable } from "../../container/start.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  "all-restarting": { type: "boolean", description: "Start every ended container whose --restart is always, or unless-stopped and not stopped by hand (for boot)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "start", description: "Start stopped containers again, in the background: cbox start CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a["all-restarting"]) {
      if (a._.length) throw new CboxError("cbox start --all-restarting takes no containers: it starts every one whose restart policy says so");
      return startRestartable(storagePaths(a.root));
    }
    return startContainers(a._, storagePaths(a.root));
  },
});
