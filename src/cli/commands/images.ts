import { defineCommand } from "../define.ts";
import { formatImages, imageRows } from "../../image/images.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  format: { type: "string", description: "table (default) or json (one object a line)" },
  quiet: { type: "boolean", alias: "q", description: "Only image ids" },
  digests: { type: "boolean", description: "Show the manifest digest each image was pulled by" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "images", description: "List stored images" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    const rows = imageRows(storagePaths(a.root));
    const text = a.quiet ? [...new Set(rows.map((r) => r.id.slice(0, 12)))].map((id) => `${id}\n`).join("") : formatImages(rows, a.format, { digests: !!a.digests });
    process.stdout.write(text);
    return 0;
  },
});
