// cbox as an OCI runtime: runc's command line, which containerd's shim, conmon (podman) and
// dockerd speak. Reached as `cbox-runtime ...` (a link to cbox) or `cbox runtime ...`.
import { appendFileSync, readFileSync, writeSync } from "node:fs";
import { CboxError, ExitCode, systemErrorText } from "../errors.ts";
import { version, commit } from "../version.ts";
import { parseRuncArgs, type FlagSpec, type Flags } from "./args.ts";
import type { OciResources } from "./config.ts";
import { checkId, defaultRoot, specState, StateDir } from "./state.ts";
// Each command loads only its own code: an engine calls the runtime several times per container.
const lifecycle = () => import("./lifecycle.ts");
const created = () => import("./create.ts");
const exitCode = async (wait: () => number) => (await import("../sys/process.ts")).exitCodeOf(wait());

const GLOBAL: FlagSpec = {
  root: "value", log: "value", "log-format": "value", debug: "bool", "systemd-cgroup": "bool",
  rootless: "value", criu: "value", help: "bool", h: "bool", version: "bool", v: "bool",
};

const CREATE: FlagSpec = {
  bundle: "value", b: "value", "pid-file": "value", "console-socket": "value", "no-pivot": "bool",
  "no-new-keyring": "bool", "preserve-fds": "value",
};

const COMMANDS: Record<string, FlagSpec> = {
  create: CREATE,
  run: { ...CREATE, detach: "bool", d: "bool", "no-subreaper": "bool", keep: "bool" },
  start: {},
  state: {},
  kill: { all: "bool", a: "bool" },
  delete: { force: "bool", f: "bool" },
  list: { format: "value", f: "value", quiet: "bool", q: "bool" },
  ps: { format: "value", f: "value" },
  exec: {
    process: "value", p: "value", tty: "bool", t: "bool", detach: "bool", d: "bool", "pid-file": "value",
    "console-socket": "value", cwd: "value", env: "list", e: "list", user: "value", u: "value",
    "additional-gids": "list", g: "list", cap: "list", c: "list", "no-new-privs": "bool",
    "preserve-fds": "value", "process-label": "value", apparmor: "value", "ignore-paused": "bool", cgroup: "value",
  },
  pause: {},
  resume: {},
  update: {
    resources: "value", r: "value", memory: "value", "memory-reservation": "value", "memory-swap": "value",
    "cpu-shares": "value", "cpu-period": "value", "cpu-quota": "value", "cpuset-cpus": "value", "cpuset-mems": "value",
    "pids-limit": "value",
  },
  features: {},
};

/** Signals a foreground `run` passes on to the container (all a process may catch). */
const FORWARDED = Array.from({ length: 31 }, (_, i) => i + 1).filter((s) => s !== 9 && s !== 19 && s !== 17);

interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
}

export async function runtimeMain(argv: string[]): Promise<number> {
  const { flags: global, rest } = parseRuncArgs(argv, GLOBAL);
  const logger = makeLogger(global.log as string | undefined, (global["log-format"] as string | undefined) ?? "text");
  try {
    return await run(global, rest, logger);
  } catch (err) {
    logger.error(errorText(err));
    return err instanceof CboxError ? err.exitCode : ExitCode.cboxError;
  }
}

async function run(global: Flags, rest: string[], log: Logger): Promise<number> {
  if (global.version || global.v) {
    writeSync(1, `cbox-runtime version ${version}\ncommit: ${commit}\nspec: 1.0.2\n`);
    return 0;
  }
  const [command, ...args] = rest;
  if (!command || global.help || global.h || command === "help") {
    writeSync(1, usage());
    return command || global.help || global.h ? 0 : ExitCode.cboxError;
  }
  const spec = COMMANDS[command];
  if (!spec) throw new CboxError(`unknown command "${command}"; the commands: ${Object.keys(COMMANDS).join(", ")}`);
  const format = global["log-format"];
  if (format !== undefined && format !== "text" && format !== "json") throw new CboxError(`--log-format ${format}: use text or json`);
  const { flags, rest: operands } = parseRuncArgs(args, spec);
  const states = new StateDir((global.root as string | undefined) ?? defaultRoot(process.env));
  const systemd = !!global["systemd-cgroup"];
  const id = () => checkId(operands[0]);
  const value = (...names: string[]) => names.map((n) => flags[n]).find((v) => v !== undefined) as string | undefined;
  const list = (...names: string[]) => names.flatMap((n) => (flags[n] as string[] | undefined) ?? []);
  const on = (...names: string[]) => names.some((n) => flags[n] === true);
  switch (command) {
    case "create":
    case "run": {
      if (on("no-pivot")) throw new CboxError("--no-pivot: cbox always uses pivot_root (a root on ramfs is not supported)");
      const detach = on("detach", "d");
      const { state, child } = (await created()).createContainer(states, {
        id: id(),
        bundle: value("bundle", "b") ?? ".",
        pidFile: value("pid-file"),
        consoleSocket: value("console-socket"),
        preserveFds: preserveFds(value("preserve-fds")),
        systemdCgroup: systemd,
        forward: command === "run" && !detach ? { signals: FORWARDED, stopSignals: [], stopTimeout: 0 } : undefined,
      });
      if (command === "create") return 0;

      const { startContainer, deleteContainer } = await lifecycle();
      startContainer(states, state.id, log.warn);
      if (detach) return 0;
      const code = await exitCode(() => child.wait());
      if (!on("keep")) deleteContainer(states, state.id, true, log.warn);
      return code;
    }
    case "start":
      (await lifecycle()).startContainer(states, id(), log.warn);
      return 0;
    case "state": {
      const state = states.load(id());
      writeSync(1, `${JSON.stringify(specState(state, states.status(state)), null, 2)}\n`);
      return 0;
    }
    case "kill": {
      const { killContainer, parseSignal } = await lifecycle();
      killContainer(states, id(), parseSignal(operands[1]), on("all", "a"));
      return 0;
    }
    case "delete":
      (await lifecycle()).deleteContainer(states, id(), on("force", "f"), log.warn);
      return 0;
    case "list":
      writeSync(1, (await import("./list.ts")).listContainers(states, value("format", "f") ?? "table", on("quiet", "q")));
      return 0;
    case "ps":
      writeSync(1, (await import("./list.ts")).psContainer(states, id(), value("format", "f") ?? "table", operands.slice(1)));
      return 0;
    case "exec": {
      const detach = on("detach", "d");
      const child = (await import("./exec.ts")).execInContainer(states, {
        id: id(),
        processFile: value("process", "p"),
        args: operands.slice(1),
        tty: on("tty", "t"),
        cwd: value("cwd"),
        env: list("env", "e"),
        user: value("user", "u"),
        additionalGids: list("additional-gids", "g"),
        caps: list("cap", "c"),
        noNewPrivs: on("no-new-privs"),
        detach,
        consoleSocket: value("console-socket"),
        preserveFds: preserveFds(value("preserve-fds")),
        forward: detach ? undefined : { signals: FORWARDED, stopSignals: [], stopTimeout: 0 },
      });
      const pidFile = value("pid-file");
      if (pidFile) (await created()).writePidFile(pidFile, child.pid);
      return detach ? 0 : await exitCode(() => child.wait());
    }
    case "pause":
    case "resume":
      (await lifecycle()).pauseContainer(states, id(), command === "pause");
      return 0;
    case "update":
      (await lifecycle()).updateContainer(states, id(), updateFrom(flags));
      return 0;
    case "features":
      writeSync(1, `${JSON.stringify((await import("./features.ts")).features(), null, 2)}\n`);
      return 0;
  }
  return ExitCode.cboxError;
}

/** update's resources: a JSON file (- for stdin) of linux.resources, or runc's flags. */
function updateFrom(flags: Flags): OciResources {
  const file = (flags.resources ?? flags.r) as string | undefined;
  if (file) {
    try {
      return JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8")) as OciResources;
    } catch (err) {
      throw new CboxError(`--resources ${file}: ${(err as Error).message}`);
    }
  }
  const num = (name: string) => {
    const v = flags[name] as string | undefined;
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new CboxError(`--${name} ${v}: use a whole number`);
    return n;
  };
  const r: OciResources = {
    memory: { limit: num("memory"), reservation: num("memory-reservation"), swap: num("memory-swap") },
    cpu: { shares: num("cpu-shares"), period: num("cpu-period"), quota: num("cpu-quota"), cpus: flags["cpuset-cpus"] as string | undefined, mems: flags["cpuset-mems"] as string | undefined },
  };
  const pids = num("pids-limit");
  return pids === undefined ? r : { ...r, pids: { limit: pids } };
}

function preserveFds(value: string | boolean | string[] | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CboxError(`--preserve-fds ${value}: use a count of file descriptors after stderr`);
  return n;
}

function errorText(err: unknown): string {
  if (err instanceof CboxError) return err.message;
  if ((err as NodeJS.ErrnoException)?.code) return systemErrorText(err);
  return `internal error: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * Errors go to stderr as one line, and to --log too: as runc's JSON lines with --log-format json
 * (containerd's shim reads the last "error" line from there when a command fails).
 */
function makeLogger(file: string | undefined, format: string): Logger {
  const line = (level: string, msg: string) => {
    if (!file) return;
    const text = format === "json" ? JSON.stringify({ level, msg, time: new Date().toISOString() }) : `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      appendFileSync(file, `${text}\n`);
    } catch {
      // the log is a help to the engine; the error still goes to stderr
    }
  };
  return {
    error(msg) {
      line("error", msg);
      writeSync(2, `cbox-runtime: ${msg}\n`);
    },
    warn(msg) {
      line("warning", msg);
      writeSync(2, `cbox-runtime: warning: ${msg}\n`);
    },
  };
}

function usage(): string {
  return `Usage: cbox-runtime [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] COMMAND [FLAGS] ID

cbox as an OCI runtime (runc's command line), for containerd, podman and docker.

Commands:
  create --bundle DIR [--pid-file F] [--console-socket SOCK] [--preserve-fds N] ID
  start ID          let a created container run its program
  run [create's flags] [--detach] ID
  state ID          the container's state, as JSON
  kill [--all] ID [SIGNAL]
  delete [--force] ID
  list [--format table|json] [--quiet]
  ps [--format table|json] ID
  exec [--process FILE] [--tty] [--detach] [--pid-file F] [--console-socket SOCK] [--cwd DIR]
       [--env NAME=VALUE] [--user UID[:GID]] [--cap CAP] ID [COMMAND...]
  pause ID · resume ID
  update [--resources FILE|-] [--memory N] [--cpu-shares N] [--cpu-quota N] [--pids-limit N] ID
  features          what this runtime supports, as JSON
`;
}
