import { defineCommand } from "citty";
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { saveImages } from "../../image/save.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  output: { type: "string", alias: "o", description: "Write to this file instead of standard output" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "save", description: "Save images to a tar that docker load, podman load and OCI tools read: cbox save -o FILE IMAGE..." },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length === 0) throw new CboxError("cbox save needs at least one image: cbox save -o FILE IMAGE...");
    if (!a.output && process.stdout.isTTY) throw new CboxError("cbox save writes a tar archive, and standard output is a terminal: give -o FILE or redirect it (cbox save IMAGE > image.tar)");
    const paths = storagePaths(a.root);
    // Into a temp name beside the file, renamed once whole: a failed save leaves nothing.
    const target = a.output;
    const temp = target ? `${target}.tmp-${process.pid}` : undefined;
    const fd = temp ? openSync(temp, "wx", 0o644) : 1;
    try {
      await saveImages(paths, a._, (chunk) => {
        for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
      });
      if (temp) {
        closeSync(fd);
        renameSync(temp, target!);
      }
    } catch (err) {
      if (temp) {
        closeSync(fd);
        rmSync(temp, { force: true });
      }
      throw err;
    }
    return 0;
  },
});
