import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { formatListed, listContainers } from "../../container/ps.ts";
import { storagePaths } from "../../paths.ts";
import { mark } from "../../timing.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  all: { type: "boolean", alias: "a", description: "Show every container (default: the running ones)" },
  quiet: { type: "boolean", alias: "q", description: "Only container ids" },
  format: { type: "string", description: "table (default) or json (one object a line)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "ps", description: "List containers: cbox ps [-a] [-q] [--format json]" },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    const containers = (await listContainers(storagePaths(a.root))).filter((c) => a.all || c.live === "running" || c.live === "restarting");
    mark("read containers");
    writeSync(1, a.quiet ? containers.map((c) => `${c.state.id.slice(0, 12)}\n`).join("") : formatListed(containers, a.format));
    return 0;
  },
});
