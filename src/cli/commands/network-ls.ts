import { defineCommand } from "../define.ts";
import { writeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { builtinNetworks, listNetworks } from "../../container/network/named.ts";
import { table } from "../output.ts";
import { storagePaths } from "../../paths.ts";
import { rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  quiet: { type: "boolean", alias: "q", description: "Only network ids" },
  format: { type: "string", description: "table (default) or json (one object a line)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "network ls", description: "List networks: cbox's three (bridge, host, none) and the named ones" },
  args,
  run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length) throw new CboxError(`cbox network ls takes no operands (got ${a._[0]})`);
    const rows = [...builtinNetworks(), ...listNetworks(storagePaths(a.root)).map((n) => ({ id: n.id, name: n.name, driver: "bridge" }))].sort((x, y) => x.name.localeCompare(y.name));
    if (a.quiet) writeSync(1, rows.map((r) => `${r.id.slice(0, 12)}\n`).join(""));
    else if (a.format === "json") writeSync(1, rows.map((r) => `${JSON.stringify({ ID: r.id.slice(0, 12), Name: r.name, Driver: r.driver, Scope: "local" })}\n`).join(""));
    else if (a.format === undefined || a.format === "table") writeSync(1, table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows.map((r) => [r.id.slice(0, 12), r.name, r.driver, "local"])));
    else throw new CboxError(`--format ${JSON.stringify(a.format)}: use table or json`);
    return 0;
  },
});
