import { defineCommand } from "../define.ts";
import { createContainerOnly } from "../../container/run.ts";
import { storagePaths } from "../../paths.ts";
import type { CommandArgs } from "../args.ts";
import { containerArgs, containerOptionsOf } from "./run.ts";

export const args = containerArgs;

export default defineCommand({
  meta: { name: "create", description: "Make a container without running it (cbox start runs it): cbox create [FLAGS] IMAGE [CMD...], or --rootfs DIR CMD..." },
  args,
  // citty's own type for args knows no multiple flags (-e): cbox's parser (flags.ts) made them lists.
  async run({ args: parsed }) {
    const a = parsed as unknown as CommandArgs<typeof args>;
    const paths = storagePaths(a.root);
    return createContainerOnly(await containerOptionsOf(a, paths), paths);
  },
});
