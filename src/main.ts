// cbox's entry point: finds the command, parses its flags, and is the one place errors are printed.
import type { CommandDef } from "citty";
import { defineCommand } from "./cli/define.ts";
import { commands, groups } from "./cli/command-table.ts";
import { printError } from "./cli/output.ts";
import { parseFlags, usageFlags, type FlagDefs } from "./cli/flags.ts";
import { CboxError, ExitCode, systemErrorText } from "./errors.ts";
import { mark, writeTimings } from "./timing.ts";
import { version, versionLine } from "./version.ts";

mark("main");

/** The command tree as the usage shows it: made only when a usage is printed (start-up counts). */
function usageTree(): { root: CommandDef<any>; groupDefs: Record<string, CommandDef<any>> } {
  const groupDefs = Object.fromEntries(
    Object.entries(groups).map(([name, g]) => [
      name,
      defineCommand({ meta: { name, description: `${g.description}: cbox ${name} ${Object.keys(g.commands).filter((c) => c !== "list" && c !== "remove").join("|")}` } }),
    ]),
  );
  const root = defineCommand({
    meta: { name: "cbox", version, description: "Containers for Linux in one executable, with no daemon" },
    // Names starting with _ are cbox's own (its monitor runs them), those with a space are reached through a group: not listed.
    subCommands: {
      ...Object.fromEntries(Object.entries(commands).filter(([name]) => !name.startsWith("_") && !name.includes(" ")).map(([name, load]) => [name, () => load().then((m) => m.default)])),
      ...groupDefs,
    },
  });
  return { root, groupDefs };
}

/** Prints a usage: its code (and citty's) is loaded only then. */
async function printUsage(cmd: CommandDef<any>, parent?: CommandDef<any>): Promise<void> {
  await (await import("./cli/usage.ts")).printUsage(cmd, parent);
}

/** Commands whose operands are a container command line (top: ps's options): flags end at the first operand. */
const stopsAtOperand = new Set(["run", "create", "exec", "top"]);

async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  const group = name !== undefined && Object.hasOwn(groups, name) ? groups[name]! : undefined;
  if (group) {
    const sub = rest[0] ?? "";
    const target = Object.hasOwn(group.commands, sub) ? group.commands[sub]! : undefined;
    if (!target || !commands[target]) {
      if (sub === "" || sub === "--help") {
        const { root, groupDefs } = usageTree();
        await printUsage(groupDefs[name!]!, root);
        return 0; // as docker: the usage asked for, or given for nothing asked

      }
      throw new CboxError(`unknown command "${name} ${sub}"; see cbox ${name} --help`);
    }
    [name, ...rest] = [target, ...rest.slice(1)];
  }
  if (name === undefined || name === "--help" || name === "help") {
    await printUsage(usageTree().root);
    return 0;
  }
  if (name === "--version" || name === "version") {
    console.log(versionLine());
    return 0;
  }
  const load = commands[name];
  if (!load) throw new CboxError(`unknown command "${name}"; see cbox --help`);
  const mod = await load();
  mark("load command");
  const defs: FlagDefs = { ...mod.args, help: { type: "boolean", description: "Show this help" } };
  const { flags, operands } = parseFlags(rest, defs, stopsAtOperand.has(name));
  if (flags.help) {
    await printUsage({ ...mod.default, args: usageFlags(mod.args) }, usageTree().root);
    return 0;
  }
  mark("parse flags");
  const result = await mod.default.run!({ args: { ...flags, _: operands } as any, rawArgs: rest, cmd: mod.default });
  return typeof result === "number" ? result : 0;
}

/** Called as cbox-runtime (a link) or `cbox runtime`: the OCI runtime's command line. */
function runtimeArgs(argv: string[]): string[] | undefined {
  if (/(^|\/)cbox-runtime$/.test(process.argv0)) return argv;
  return argv[0] === "runtime" ? argv.slice(1) : undefined;
}

const asRuntime = runtimeArgs(process.argv.slice(2));
(asRuntime ? import("./runtime/main.ts").then((m) => m.runtimeMain(asRuntime)) : main(process.argv.slice(2))).then(
  (code) => {
    writeTimings();
    process.exit(code); // nothing is left to run; skip the event loop's wind-down
  },
  (err: unknown) => {
    if (err instanceof CboxError) {
      printError(err.message);
      process.exitCode = err.exitCode;
    } else if ((err as NodeJS.ErrnoException)?.code) {
      printError(systemErrorText(err)); // a file system call failed: say which and on what
      process.exitCode = ExitCode.cboxError;
    } else {
      printError(`internal error: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = ExitCode.cboxError;
    }
  },
);
