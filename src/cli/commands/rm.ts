import { defineCommand } from "../define.ts";
import { removeContainers } from "../../container/remove.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  force: { type: "boolean", alias: "f", description: "Remove running containers too (they are killed)" },
  volumes: { type: "boolean", alias: "v", description: "Remove the container's anonymous volumes too; named volumes and bound host paths are never removed" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "rm", description: "Remove containers: cbox rm [-f] CONTAINER..." },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return removeContainers(a._, !!a.force, storagePaths(a.root), !!a.volumes);
  },
});
