// `cbox exec`: a new process in a running container. It joins every namespace and the cgroup
// of the container's PID 1, with the container's environment, user and working directory
// unless -e, -u and -w say otherwise, and its exit code is cbox's, as with run.
import { CboxError, systemErrorText } from "../errors.ts";
import { closeNamespaces, openNamespaces, type NamespaceFd } from "../linux/namespaces.ts";
import { enterCgroups, selfEntryFiles } from "../linux/cgroups/cgroup.ts";
import { cgroupfs } from "../linux/cgroups/fs.ts";
import type { Paths } from "../paths.ts";
import { requireSupportedKernel } from "../host/kernel.ts";
import { detectRootlessMaps, processMaps, setgroupsAllowedIn } from "../linux/userns.ts";
import { exitCodeOf } from "../sys/process.ts";
import { lockdownFor } from "./lockdown.ts";
import { buildExecPlan, type ExecSpec } from "./plan.ts";
import { resolveContainer } from "./remove.ts";
import { namespaceHolder } from "./shared-namespaces.ts";
import { checkUserMapped } from "./rootless-fit.ts";
import { spawnContainer } from "./run.ts";
import { startFailure } from "./start-failure.ts";
import { applyEnv } from "./env.ts";
import type { ContainerSpec } from "./spec.ts";
import { resolveUser } from "./user.ts";
import { liveState, pid1Alive, shownState } from "./status.ts";
import { ContainerStdio } from "./stdio.ts";
import { containerDirs, readSpec, readState, type ContainerState } from "./store.ts";

export interface ExecOptions {
  command: string[];
  interactive: boolean;
  tty: boolean;
  env: string[];
  user?: string;
  workdir?: string;
}

export function execInContainer(paths: Paths, ref: string, opts: ExecOptions): number {
  if (opts.command.length === 0) throw new CboxError("no command given: cbox exec CONTAINER CMD [ARG...]");
  requireSupportedKernel();
  if (opts.workdir !== undefined && !opts.workdir.startsWith("/")) throw new CboxError(`--workdir must be an absolute path: ${opts.workdir}`);
  const dir = containerDirs(paths, resolveContainer(paths, ref)).dir;
  const state = readState(dir);
  if (!state || liveState(state) !== "running" || !pid1Alive(state)) throw new CboxError(`container ${ref} is not running`);
  if (shownState(state) === "paused") throw new CboxError(`container ${ref} is paused; unpause it first (cbox unpause ${ref})`);
  const spec = readSpec(dir, state);
  if (!spec?.security) throw new CboxError(`container ${ref} was made by an older cbox that did not keep its settings; exec needs them`);
  const pid = state.pid!;
  const namespaces = openNamespaces(namespaceHolder(spec, pid));
  const stdio = new ContainerStdio({ interactive: opts.interactive, tty: opts.tty, detached: false });
  try {
    // The pid may have been reused since state.json was read: the namespaces opened must be the container's.
    if (!pid1Alive(state)) throw new CboxError(`container ${ref} is not running`);
    const exec = execSpec(spec, pid, namespaces, opts);
    const selfEntry = selfEntryFiles(state.cgroups ?? [], cgroupfs);
    const plan = buildExecPlan(exec, stdio.plan, selfEntry);
    const child = spawnContainer(plan, 0, 0);
    try {
      stdio.spawned();
      closeNamespaces(namespaces.splice(0));
      if (!selfEntry) joinCgroups(state, child.pid);
      const failure = child.release();
      if (failure) throw startFailure(plan, failure, "");
      stdio.attach(child.pid);
      return exitCodeOf(child.wait());
    } finally {
      child.abort(); // a no-op once waited for
    }
  } finally {
    closeNamespaces(namespaces);
    stdio.close();
  }
}

function execSpec(spec: ContainerSpec, pid: number, namespaces: NamespaceFd[], opts: ExecOptions): ExecSpec {
  // The container's own view of its files: its /etc/passwd may have changed since it started.
  const user = opts.user === undefined ? spec.user : resolveUser(opts.user, [`/proc/${pid}/root`]);
  if (opts.user !== undefined && process.getuid!() !== 0) {
    checkUserMapped("--user", user, { ...processMaps(pid), ownIdOnly: detectRootlessMaps().ownIdOnly });
  }
  const base = opts.user === undefined ? spec.env : [...spec.env, `HOME=${user.home}`];
  return {
    namespaces,
    user,
    workdir: opts.workdir ?? spec.workdir,
    command: opts.command,
    env: applyEnv(base, { env: opts.env, envFiles: [] }, process.env),
    setgroupsAllowed: setgroupsAllowedIn(pid),
    // What the container's own process got: the same capabilities, no_new_privs and filter.
    lockdown: lockdownFor(spec.security),
  };
}

/** Before its release: the process (and so the command it forks) counts against the container's limits. */
function joinCgroups(state: ContainerState, pid: number): void {
  try {
    enterCgroups(state.cgroups ?? [], pid, cgroupfs);
  } catch (err) {
    throw new CboxError(`cannot join the container's cgroups: ${systemErrorText(err)}`);
  }
}
