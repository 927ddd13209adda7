import { defineCommand } from "../define.ts";
import { attachClient, connectClient, runningTarget } from "../../container/attach.ts";
import { parseDetachKeys } from "../../container/detach-keys.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  "no-stdin": { type: "boolean", description: "Do not pass your input to the container" },
  "sig-proxy": { type: "boolean", description: "Pass the signals cbox gets on to the container (default true; not with -t, whose keys reach it)" },
  "detach-keys": { type: "string", description: "Keys that detach, leaving the container running (default ctrl-p,ctrl-q)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "attach", description: "Connect your terminal to a running detached container's stdio (detach: Ctrl-P Ctrl-Q): cbox attach CONTAINER" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length !== 1) throw new CboxError("cbox attach needs one container");
    const keys = parseDetachKeys(a["detach-keys"]);
    const target = runningTarget(storagePaths(a.root), a._[0]!);
    const opts = { stdin: !a["no-stdin"], stdout: true, stderr: true, once: false, sigProxy: a["sig-proxy"] !== false, detachKeys: keys };
    return attachClient(connectClient(target.dirs, target.ref, false), target, opts);
  },
});
