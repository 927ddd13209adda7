// cbox's entry point: finds the command, parses its flags, and is the one place errors are printed.
import { defineCommand, showUsage, type CommandDef } from "citty";
import { printError } from "./cli/output.ts";
import { parseFlags, usageFlags, type FlagDefs } from "./cli/flags.ts";
import { CboxError, ExitCode, systemErrorText } from "./errors.ts";
import { mark, writeTimings } from "./timing.ts";
import { version, versionLine } from "./version.ts";

mark("main");

const commands: Record<string, () => Promise<{ default: CommandDef<any>; args: FlagDefs }>> = {
  run: () => import("./cli/commands/run.ts"),
  create: () => import("./cli/commands/create.ts"),
  rm: () => import("./cli/commands/rm.ts"),
  ps: () => import("./cli/commands/ps.ts"),
  inspect: () => import("./cli/commands/inspect.ts"),
  port: () => import("./cli/commands/port.ts"),
  start: () => import("./cli/commands/start.ts"),
  stop: () => import("./cli/commands/stop.ts"),
  restart: () => import("./cli/commands/restart.ts"),
  attach: () => import("./cli/commands/attach.ts"),
  kill: () => import("./cli/commands/kill.ts"),
  pause: () => import("./cli/commands/pause.ts"),
  unpause: () => import("./cli/commands/unpause.ts"),
  rename: () => import("./cli/commands/rename.ts"),
  top: () => import("./cli/commands/top.ts"),
  stats: () => import("./cli/commands/stats.ts"),
  update: () => import("./cli/commands/update.ts"),
  logs: () => import("./cli/commands/logs.ts"),
  exec: () => import("./cli/commands/exec.ts"),
  wait: () => import("./cli/commands/wait.ts"),
  pull: () => import("./cli/commands/pull.ts"),
  login: () => import("./cli/commands/login.ts"),
  logout: () => import("./cli/commands/logout.ts"),
  images: () => import("./cli/commands/images.ts"),
  rmi: () => import("./cli/commands/rmi.ts"),
  tag: () => import("./cli/commands/tag.ts"),
  load: () => import("./cli/commands/load.ts"),
  save: () => import("./cli/commands/save.ts"),
  "image inspect": () => import("./cli/commands/image-inspect.ts"),
  "image prune": () => import("./cli/commands/image-prune.ts"),
  import: () => import("./cli/commands/import.ts"),
  "volume create": () => import("./cli/commands/volume-create.ts"),
  "volume ls": () => import("./cli/commands/volume-ls.ts"),
  "volume inspect": () => import("./cli/commands/volume-inspect.ts"),
  "volume rm": () => import("./cli/commands/volume-rm.ts"),
  "volume prune": () => import("./cli/commands/volume-prune.ts"),
  cp: () => import("./cli/commands/cp.ts"),
  diff: () => import("./cli/commands/diff.ts"),
  export: () => import("./cli/commands/export.ts"),
  "container prune": () => import("./cli/commands/container-prune.ts"),
  "system prune": () => import("./cli/commands/system-prune.ts"),
  "system df": () => import("./cli/commands/system-df.ts"),
  info: () => import("./cli/commands/info.ts"),
  "network create": () => import("./cli/commands/network-create.ts"),
  "network ls": () => import("./cli/commands/network-ls.ts"),
  "network inspect": () => import("./cli/commands/network-inspect.ts"),
  "network rm": () => import("./cli/commands/network-rm.ts"),
  "network connect": () => import("./cli/commands/network-connect.ts"),
  "network disconnect": () => import("./cli/commands/network-disconnect.ts"),
  _exited: () => import("./cli/commands/exited.ts"),
  _cp: () => import("./cli/commands/cp-side.ts"),
};

/** docker's management commands (`cbox image SUB`, `cbox container SUB`, `cbox volume SUB`, ...): each SUB is one of the commands above. */
const groups: Record<string, { description: string; commands: Record<string, string> }> = {
  image: {
    description: "Manage images",
    commands: { ls: "images", list: "images", pull: "pull", tag: "tag", inspect: "image inspect", rm: "rmi", remove: "rmi", prune: "image prune", save: "save", load: "load" },
  },
  volume: {
    description: "Manage volumes",
    commands: { create: "volume create", ls: "volume ls", list: "volume ls", inspect: "volume inspect", rm: "volume rm", remove: "volume rm", prune: "volume prune" },
  },
  network: {
    description: "Manage named networks",
    commands: { create: "network create", ls: "network ls", list: "network ls", inspect: "network inspect", rm: "network rm", remove: "network rm", connect: "network connect", disconnect: "network disconnect" },
  },
  container: {
    description: "Manage containers",
    commands: {
      ls: "ps", list: "ps", ps: "ps", run: "run", create: "create", start: "start", restart: "restart", attach: "attach", rm: "rm", remove: "rm", inspect: "inspect",
      stop: "stop", kill: "kill", pause: "pause", unpause: "unpause", rename: "rename", top: "top", stats: "stats", update: "update", logs: "logs", exec: "exec",
      wait: "wait", port: "port", cp: "cp", diff: "diff", export: "export", prune: "container prune",
    },
  },
  system: {
    description: "Manage cbox's storage",
    commands: { df: "system df", prune: "system prune", info: "info" },
  },
};

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
        await showUsage(groupDefs[name!]!, root);
        return sub === "" ? ExitCode.cboxError : 0;
      }
      throw new CboxError(`unknown command "${name} ${sub}"; see cbox ${name} --help`);
    }
    [name, ...rest] = [target, ...rest.slice(1)];
  }
  if (name === undefined || name === "--help" || name === "help") {
    await showUsage(usageTree().root);
    return name === undefined ? ExitCode.cboxError : 0;
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
    await showUsage({ ...mod.default, args: usageFlags(mod.args) }, usageTree().root);
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
