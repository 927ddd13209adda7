import { defineCommand } from "citty";
import { runContainer } from "../../container/run.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  rootfs: { type: "string", description: "Directory to use as the (read-only) lower layer of the container's root" },
  rm: { type: "boolean", description: "Remove the container when it exits" },
  name: { type: "string", description: "Name the container" },
  env: { type: "string", alias: "e", multiple: true, description: "Set an environment variable (NAME=VALUE, or NAME to copy it)" },
  "env-file": { type: "string", multiple: true, description: "Read environment variables from a file" },
  workdir: { type: "string", alias: "w", description: "Working directory inside the container" },
  user: { type: "string", alias: "u", description: "User to run as: UID[:GID] or NAME[:GROUP]" },
  hostname: { type: "string", alias: "h", description: "Container host name" },
  interactive: { type: "boolean", alias: "i", description: "Keep stdin open and pass it to the container" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "run", description: "Run a command in a new container: cbox run [FLAGS] --rootfs DIR CMD [ARG...]" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    return runContainer(
      {
        rootfs: a.rootfs,
        command: a._,
        name: a.name,
        env: a.env ?? [],
        envFiles: a["env-file"] ?? [],
        workdir: a.workdir,
        user: a.user,
        hostname: a.hostname,
        interactive: !!a.interactive,
        remove: !!a.rm,
      },
      storagePaths(a.root),
    );
  },
});
