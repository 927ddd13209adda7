import { defineCommand } from "../define.ts";
import { parseDetachKeys } from "../../container/detach-keys.ts";
import { startContainers, startRestartable } from "../../container/start.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  attach: { type: "boolean", alias: "a", description: "Attach stdout and stderr, pass signals on, and wait for the container's end (its exit code)" },
  interactive: { type: "boolean", alias: "i", description: "Attach stdin too (the container must have been made with -i)" },
  "detach-keys": { type: "string", description: "Keys that detach, leaving the container running (default ctrl-p,ctrl-q)" },
  "all-restarting": { type: "boolean", description: "Start every ended container whose --restart is always, or unless-stopped and not stopped by hand (for boot)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "start", description: "Start created or stopped containers, in the background: cbox start [-a] [-i] CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a["all-restarting"]) {
      if (a._.length) throw new CboxError("cbox start --all-restarting takes no containers: it starts every one whose restart policy says so");
      return startRestartable(storagePaths(a.root));
    }
    const keys = parseDetachKeys(a["detach-keys"]);
    const attached = a.attach || a.interactive;
    const attach = attached ? { stdin: !!a.interactive, stdout: true, stderr: true, once: !!a.interactive, sigProxy: true, detachKeys: keys } : undefined;
    return startContainers(a._, storagePaths(a.root), attach);
  },
});
