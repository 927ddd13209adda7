import { defineCommand } from "../define.ts";
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { CboxError } from "../../errors.ts";
import { loadArchive } from "../../image/load.ts";
import { imagesDir } from "../../image/store.ts";
import { storagePaths, type Paths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  input: { type: "string", alias: "i", description: "Read from this tar file instead of standard input" },
  quiet: { type: "boolean", alias: "q", description: "Print nothing" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "load", description: "Load images from a docker-archive or an OCI layout tar: cbox load -i FILE, or cbox load < FILE" },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length) throw new CboxError(`cbox load takes no operands (got ${a._[0]}); give the file with -i FILE`);
    const paths = storagePaths(a.root);
    const file = a.input ?? (await stdinToFile(paths));
    try {
      for (const image of await loadArchive(paths, file)) {
        if (a.quiet) continue;
        const lines = image.tags.length ? image.tags.map((t) => `Loaded image: ${t}`) : [`Loaded image ID: sha256:${image.id}`];
        process.stdout.write(lines.map((l) => `${l}\n`).join(""));
      }
    } finally {
      if (!a.input) rmSync(file, { force: true });
    }
    return 0;
  },
});

/** Standard input is not seekable: it is kept in the store (a temp name recovery removes) while loading. */
async function stdinToFile(paths: Paths): Promise<string> {
  if (process.stdin.isTTY) throw new CboxError("cbox load reads an archive from standard input, which is a terminal: give -i FILE or redirect a file (cbox load < image.tar)");
  mkdirSync(imagesDir(paths), { recursive: true, mode: 0o755 });
  const file = join(imagesDir(paths), `.tmp-${process.pid}-load.tar`);
  await pipeline(process.stdin, createWriteStream(file, { mode: 0o600 }));
  return file;
}
