import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { imageBytes } from "../../container/disk-usage.ts";
import { pruneContainers } from "../../container/prune.ts";
import { CboxError } from "../../errors.ts";
import { pruneImages } from "../../image/images.ts";
import { pruneReport } from "../../container/stats-format.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";
import { confirm } from "../confirm.ts";

export const args = {
  ...rootFlag,
  all: { type: "boolean", alias: "a", description: "Remove every image no container uses, not only untagged ones" },
  force: { type: "boolean", alias: "f", description: "Do not ask (needed when standard input is not a terminal)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "system prune", description: "Remove stopped containers, then untagged images (-a: every image no container uses): cbox system prune [-a] [-f]" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length) throw new CboxError(`cbox system prune takes no operands (got ${a._[0]})`);
    const images = a.all ? "all images without at least one container associated to them" : "all dangling images";
    if (!a.force && !confirm(`WARNING! This will remove:\n  - all stopped containers\n  - ${images}\n\nAre you sure you want to continue? [y/N] `, "-f")) return 0;
    const paths = storagePaths(a.root);
    const containers = pruneContainers(paths);
    const before = imageBytes(paths);
    const deleted = pruneImages(paths, !!a.all);
    const reclaimed = containers.bytes + before - imageBytes(paths);
    writeSync(1, pruneReport([["Deleted Containers", containers.removed], ["Deleted Images", deleted]], reclaimed));
    return 0;
  },
});
