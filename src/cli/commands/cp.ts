import { defineCommand } from "../define.ts";
import { copyFiles } from "../../container/files/copy.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  archive: { type: "boolean", alias: "a", description: "Keep the files' uid and gid (default: root's inside a container, yours outside)" },
  "follow-link": { type: "boolean", alias: "L", description: "Copy what a symlink given as SRC points to, not the link" },
} satisfies FlagDefs;

export default defineCommand({
  meta: {
    name: "cp",
    description: "Copy files between a container, running or stopped, and this host: cbox cp CONTAINER:SRC DEST, cbox cp SRC CONTAINER:DEST (- for a tar archive on stdout or stdin)",
  },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return copyFiles(storagePaths(a.root), a._, { archive: !!a.archive, followLink: !!a["follow-link"] });
  },
});
