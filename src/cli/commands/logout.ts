import { defineCommand } from "../define.ts";
import { CboxError } from "../../errors.ts";
import { DOCKER_HUB } from "../../image/reference.ts";
import { eraseCredentials, loginRegistry } from "../../image/registry/credentials.ts";
import type { CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "logout", description: "Remove a registry's stored login (default Docker Hub): cbox logout [REGISTRY]" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length > 1) throw new CboxError("cbox logout takes at most one registry, e.g. cbox logout ghcr.io");
    const registry = loginRegistry(a._[0] ?? DOCKER_HUB);
    // As docker: logging out where no login is stored is not a failure.
    const erased = eraseCredentials(registry, process.env);
    process.stdout.write(erased ? `Removing login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
    return 0;
  },
});
