import { defineCommand } from "../define.ts";
import { execInContainer } from "../../container/exec.ts";
import { CboxError } from "../../errors.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  interactive: { type: "boolean", alias: "i", description: "Keep stdin open and pass it to the process" },
  tty: { type: "boolean", alias: "t", description: "Give the process a new terminal (pty)" },
  env: { type: "string", alias: "e", multiple: true, description: "Set an environment variable (NAME=VALUE, or NAME to copy it)" },
  user: { type: "string", alias: "u", description: "User to run as: UID[:GID] or NAME[:GROUP] (default: the container's)" },
  workdir: { type: "string", alias: "w", description: "Working directory (default: the container's)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "exec", description: "Run a command in a running container: cbox exec [FLAGS] CONTAINER CMD [ARG...]" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    const [ref, ...command] = a._;
    if (!ref) throw new CboxError("cbox exec needs a container and a command");
    return execInContainer(storagePaths(a.root), ref, {
      command,
      interactive: !!a.interactive,
      tty: !!a.tty,
      env: a.env ?? [],
      user: a.user,
      workdir: a.workdir,
    });
  },
});
