// `exec`: another process in a container, from --process (the runtime spec's process JSON) or
// from the container's own process with the flags' changes. It joins the container's
// namespaces and cgroup and gets the container's filter, as runc's exec does.
import { closeSync, readFileSync } from "node:fs";
import { CboxError, describeErrno } from "../errors.ts";
import { selfEntryFiles, enterCgroups } from "../linux/cgroups/cgroup.ts";
import { cgroupfs } from "../linux/cgroups/fs.ts";
import { hostLastCap } from "../linux/capabilities.ts";
import { closeNamespaces, openNamespaces } from "../linux/namespaces.ts";
import type { Op } from "../sys/ops.ts";
import { spawnHeld, SpawnError, type Forwarding, type HeldChild } from "../sys/process.ts";
import { startFailure } from "../container/start-failure.ts";
import { checkConfig, type OciConfig, type OciProcess } from "./config.ts";
import { connectConsole, seccompFilter } from "./create.ts";
import { processSteps } from "./plan.ts";
import type { RuntimeState, StateDir } from "./state.ts";

export interface ExecOptions {
  id: string;
  /** A process JSON file; otherwise args and the flags below change the container's process. */
  processFile?: string;
  args: string[];
  tty: boolean;
  cwd?: string;
  env: string[];
  user?: string;
  additionalGids: string[];
  caps: string[];
  noNewPrivs: boolean;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds: number;
  forward?: Forwarding;
}

const SIGKILL = 9;

/** Starts the process; returns it held by nobody once this cbox exits (--detach), else to be waited for. */
export function execInContainer(states: StateDir, opts: ExecOptions): HeldChild {
  const state = states.load(opts.id);
  const status = states.status(state);
  if (status === "stopped") throw new CboxError(`container ${opts.id} is not running`);
  const config = savedConfig(states, state);
  const proc = execProcess(config, opts);
  if (proc.terminal && !opts.consoleSocket) throw new CboxError("the process has a terminal: pass --console-socket for the terminal's master");
  const namespaces = openNamespaces(state.pid);
  const consoleFd = proc.terminal ? connectConsole(opts.consoleSocket!) : undefined;
  try {
    const selfEntry = selfEntryFiles(state.cgroupPaths, cgroupfs);
    const plan: Op[] = [
      // Before it joins: nothing inside may read this copy of cbox's memory through /proc.
      { op: "dumpable", ints: [0] },
      ...(opts.detach ? [] : [{ op: "pdeathsig", ints: [SIGKILL] } satisfies Op]),
      ...(selfEntry ?? []).map((file): Op => ({ op: "write", strs: [file, "0"] })),
      ...namespaces.map((ns): Op => ({ op: "setns", ints: [ns.fd, ns.type] })),
      // A PID namespace takes in only children: the command is this process's child; this one
      // passes signals on and ends with the command's status (the pid an engine waits for).
      { op: "init" },
      ...(proc.terminal ? [{ op: "setsid" } satisfies Op, { op: "console", ints: [consoleFd!, proc.user.uid, proc.consoleSize?.height ?? 0, proc.consoleSize?.width ?? 0] } satisfies Op] : []),
      { op: "chdir", strs: [proc.cwd] },
      ...processSteps(proc, { lastCap: hostLastCap(), seccomp: seccompFilter(config), preserveFds: opts.preserveFds }),
    ];
    let child: HeldChild;
    try {
      child = spawnHeld(plan, 0, opts.forward);
    } catch (err) {
      if (err instanceof SpawnError) throw new CboxError(`cannot start the process: ${describeErrno(err.errno)}`);
      throw err;
    }
    try {
      closeNamespaces(namespaces.splice(0));
      if (!selfEntry) enterCgroups(state.cgroupPaths, child.pid, cgroupfs);
      const failure = child.release();
      if (failure) throw startFailure(plan, failure, "");
      return child;
    } catch (err) {
      child.abort();
      throw err;
    }
  } finally {
    closeNamespaces(namespaces);
    if (consoleFd !== undefined) closeSync(consoleFd);
  }
}

/** The config the container was made with (create keeps a copy: the bundle may change or go). */
export function savedConfig(states: StateDir, state: RuntimeState): OciConfig {
  return JSON.parse(readFileSync(`${states.dir(state.id)}/config.json`, "utf8")) as OciConfig;
}

function execProcess(config: OciConfig, opts: ExecOptions): OciProcess {
  if (opts.processFile) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(opts.processFile, "utf8"));
    } catch (err) {
      throw new CboxError(`--process ${opts.processFile}: ${(err as Error).message}`);
    }
    return checkConfig({ ociVersion: config.ociVersion, root: { path: "." }, process: json }).process!;
  }
  if (opts.args.length === 0) throw new CboxError("exec needs a command after the container id (or --process FILE)");
  const base = config.process!;
  const user = opts.user ? parseUser(opts.user) : { uid: base.user.uid, gid: base.user.gid };
  const caps = base.capabilities ?? {};
  const withCaps = (set: string[] | undefined) => [...(set ?? []), ...opts.caps];
  const proc: OciProcess = {
    ...base,
    terminal: opts.tty,
    args: opts.args,
    cwd: opts.cwd ?? base.cwd,
    env: mergeEnv(base.env ?? [], opts.env),
    user: { ...base.user, ...user, additionalGids: opts.additionalGids.length ? opts.additionalGids.map(Number) : base.user.additionalGids },
    capabilities: opts.caps.length ? { bounding: withCaps(caps.bounding), effective: withCaps(caps.effective), permitted: withCaps(caps.permitted), inheritable: withCaps(caps.inheritable), ambient: withCaps(caps.ambient) } : base.capabilities,
    noNewPrivileges: base.noNewPrivileges || opts.noNewPrivs,
  };
  return checkConfig({ ociVersion: config.ociVersion, root: { path: "." }, process: proc }).process!;
}

/** "uid" or "uid:gid", numbers: a runtime gets ids, not names. */
function parseUser(value: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!m) throw new CboxError(`--user ${value}: use UID or UID:GID (numbers)`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}

/** The container's environment with the flags' NAME=value added, a name given again replaced. */
function mergeEnv(base: string[], extra: string[]): string[] {
  const name = (e: string) => e.slice(0, e.indexOf("="));
  for (const e of extra) if (!e.includes("=")) throw new CboxError(`--env ${e}: use NAME=value`);
  return [...base.filter((e) => !extra.some((x) => name(x) === name(e))), ...extra];
}
