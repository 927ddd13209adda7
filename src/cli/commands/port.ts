import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { formatPort } from "../../container/ps.ts";
import { recoverStaleStore, resolveContainer } from "../../container/remove.ts";
import { containerDirs, readState } from "../../container/store.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = { ...rootFlag } satisfies FlagDefs;

export default defineCommand({
  meta: { name: "port", description: "Show a running container's published ports: cbox port CONTAINER [PORT[/PROTO]]" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    const paths = storagePaths(a.root);
    const [ref, wanted, extra] = a._;
    if (ref === undefined || extra !== undefined) throw new CboxError("cbox port needs one container, and optionally one PORT[/PROTO]");
    recoverStaleStore(paths);
    const state = readState(containerDirs(paths, resolveContainer(paths, ref)).dir);
    if (!state) throw new CboxError(`no such container: ${ref}`);
    writeSync(1, formatPort(state, wanted));
    return 0;
  },
});
