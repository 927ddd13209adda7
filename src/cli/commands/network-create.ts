import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { createNetwork } from "../../container/network/manage.ts";
import { parseLabels } from "../../container/spec.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  subnet: { type: "string", description: "Its subnet, such as 10.90.0.0/16 (default: the first free /16 of cbox's list)" },
  driver: { type: "string", alias: "d", description: "bridge (the only driver)" },
  label: { type: "string", multiple: true, description: "Set a label: KEY=VALUE" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "network create", description: "Make a named network, a bridge of its own: cbox network create [--subnet CIDR] NAME" },
  args,
  run(ctx) {
    const a = ctx.args as unknown as CommandArgs<typeof args>; // citty's types know no repeated flags
    if (a._.length !== 1) throw new CboxError("cbox network create needs one network name");
    if (a.driver !== undefined && a.driver !== "bridge") throw new CboxError(`--driver ${a.driver}: cbox has the bridge driver only`);
    const net = createNetwork(storagePaths(a.root), a._[0]!, { subnet: a.subnet, labels: parseLabels(a.label ?? []) });
    writeSync(1, `${net.id}\n`);
    return 0;
  },
});
