import { defineCommand } from "../define.ts";
import { copyInSide, copyOutSide } from "../../container/files/copy.ts";
import { CboxError } from "../../errors.ts";
import type { CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  "follow-link": { type: "boolean", description: "Follow a link that is the source itself" },
  archive: { type: "boolean", description: "Keep the archive's owners" },
  "as-is": { type: "boolean", description: "A tar from cbox cp -: extract it into the folder as it is named" },
} satisfies FlagDefs;

/**
 * Internal: the container's side of cbox cp, run by cbox itself as the container's root, in its
 * user namespace (hidden from --help): `_cp out ROOT WHERE SRC` writes a tar to stdout,
 * `_cp in ROOT WHERE DEST` reads one from stdin.
 */
export default defineCommand({
  meta: { name: "_cp", description: "The container's side of cbox cp (run by cbox cp)" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    const [direction, root, where, path] = a._;
    if (a._.length !== 4 || !root || !where || !path) throw new CboxError("cbox _cp is run by cbox cp: _cp out|in ROOT WHERE PATH");
    if (direction === "out") return copyOutSide(root, where, path, !!a["follow-link"]);
    if (direction === "in") return copyInSide(root, where, path, { owners: a.archive ? "archive" : "root", asIs: !!a["as-is"] });
    throw new CboxError(`cbox _cp: ${direction} is neither out nor in`);
  },
});
