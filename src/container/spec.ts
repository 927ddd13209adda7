// A validated container: plain data, checked before anything is created.
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { signalNumber } from "../linux/signals.ts";
import { CboxError } from "../errors.ts";
import type { Limits } from "../linux/cgroups/limits.ts";
import { overlayPathProblem, type TmpfsMount } from "../linux/mounts.ts";
import { onlineCpus, parseBytes, parseLimits, type ResourceOptions } from "./resources.ts";
import { hasEffectiveCapability } from "../linux/capabilities.ts";
import { parseDevices, type DeviceNode } from "./devices.ts";
import { parseUlimits, ulimitHost, type Ulimit } from "./ulimits.ts";
import { parseSysctls } from "./sysctls.ts";
import { parseEtcFlags, type EtcFlags } from "./etc-flags.ts";
import type { EtcExtras } from "./etc-files.ts";
import { parseRestartPolicy, type RestartPolicy } from "./restart-policy.ts";
import { parseSharedNamespaces, type NamespaceFlags, type SharedNamespaces } from "./shared-namespaces.ts";
import { hostname as osHostname } from "node:os";
import { parseSecurity, type SecurityOptions, type SecuritySpec } from "./security.ts";
import { checkSeccompProfile } from "./lockdown.ts";
import { parseNetwork, type NetworkSpec } from "./network/spec.ts";
import { parseMount, parseTmpfs, parseVolume } from "./volumes.ts";
import type { RunConfig } from "../image/image-config.ts";
import { containerEnv } from "./env.ts";
import { resolveUser, type User } from "./user.ts";


/** The image a container's root comes from; empty for --rootfs DIR. */
export interface ImageUse {
  ref: string;
  id: string;
}

/** A host path or a volume of the store bound into the container (-v, --mount). */
export interface Volume {
  /** The host path; a store volume's volumes/NAME/_data (set once the storage root is known). */
  source: string;
  target: string;
  readonly: boolean;
  /** A file is bound onto a file, a folder onto a folder. */
  isFile: boolean;
  /** A volume of the store: its name (a named volume's, or an anonymous one's 64 hex). */
  name?: string;
  /** A volume made for this container alone (the image's Volumes, -v /path), removed with it by rm -v and --rm. */
  anonymous?: boolean;
}

/** host: the container's ids are the host's (root only); private: 0..65535 on a range of their own. */
export type UsernsMode = "host" | "private";

export interface ContainerSpec {
  id: string;
  name: string;
  rootfs: string;
  /** The overlay's lower folders, topmost first; [rootfs] when absent (specs of older cboxes). */
  layers?: string[];
  image: ImageUse;
  command: string[];
  env: string[];
  workdir: string;
  user: User;
  hostname: string;
  interactive: boolean;
  /** A new pty for stdin, stdout and stderr (-t). */
  tty: boolean;
  remove: boolean;
  /** Seconds from a SIGTERM or SIGHUP to cbox until the container gets SIGKILL. */
  stopTimeout: number;
  /** What cbox stop sends first: --stop-signal, the image's StopSignal, or SIGTERM. Absent in older specs. */
  stopSignal?: number;
  /** A minimal init as PID 1 that reaps zombies and forwards signals (docker's --init). */
  init: boolean;
  volumes: Volume[];
  tmpfs: TmpfsMount[];
  userns: UsernsMode;
  limits: Limits;
  security: SecuritySpec;
  network: NetworkSpec;
  // Specs written by older cboxes have none of the fields below.
  /** --device nodes, made in /dev and allowed in the devices cgroup. */
  devices?: DeviceNode[];
  ulimits?: Ulimit[];
  /** --sysctl settings, each one the container's namespaces hold. */
  sysctls?: Record<string, string>;
  /** --add-host and the --dns flags. */
  etc?: EtcExtras;
  /** /dev/shm's size in bytes (--shm-size; default 64 MiB). */
  shmSize?: number;
  /** The image's labels, then --label's. */
  labels?: Record<string, string>;
  oomScoreAdj?: number;
  domainname?: string;
  /** --pid, --ipc, --uts: namespaces shared with the host or another container. */
  namespaces?: SharedNamespaces;
  /** --restart: what happens when it ends (detached containers only). */
  restart?: RestartPolicy;
}

export { DEFAULT_PATH } from "./default-path.ts";

export interface RunOptions {
  rootfs?: string;
  /** An image's lower folders, topmost first (rootfs is the topmost). */
  layers?: string[];
  image?: ImageUse;
  /** The image's Env, WorkingDir and User, under what the flags say. */
  config?: RunConfig;
  command: string[];
  name?: string;
  env: string[];
  envFiles: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  interactive: boolean;
  tty?: boolean;
  remove: boolean;
  /** -d: print the id and leave the container to its monitor. */
  detach?: boolean;
  stopTimeout?: string;
  stopSignal?: string;
  /** -P: publish every port the image exposes, each on a free host port. */
  publishAll?: boolean;
  init?: boolean;
  volumes?: string[];
  tmpfs?: string[];
  /** --mount type=bind|volume|tmpfs,... */
  mounts?: string[];
  userns?: string;
  resources?: ResourceOptions;
  security?: SecurityOptions;
  /** --network none|host|bridge and -p values. */
  network?: string;
  publish?: string[];
  devices?: string[];
  groupAdd?: string[];
  ulimits?: string[];
  sysctls?: string[];
  etc?: EtcFlags;
  shmSize?: string;
  labels?: string[];
  oomScoreAdj?: string;
  domainname?: string;
  /** --cidfile: where the container's id is written. */
  cidfile?: string;
  /** --network-alias: more names on a named network. */
  networkAliases?: string[];
  restart?: string;
  namespaces?: NamespaceFlags;
}

/** docker stop's default grace period. */
export const DEFAULT_STOP_TIMEOUT = 10;

/** warn: what is accepted but ignored (-p with --network host), one line each. */
export function buildSpec(opts: RunOptions, id: string, hostEnv: Record<string, string | undefined>, warn: (line: string) => void = () => {}): ContainerSpec {
  if (!opts.rootfs) throw new CboxError("no root filesystem: give --rootfs DIR");
  const rootfs = resolve(opts.rootfs);
  const layers = opts.layers ?? [rootfs];
  for (const layer of layers) checkRootfs(layer);
  if (opts.command.length === 0) {
    throw new CboxError(opts.image ? `no command given and ${opts.image.ref} has none: cbox run IMAGE CMD [ARG...]` : "no command given: cbox run --rootfs DIR CMD [ARG...]");
  }
  if (opts.name !== undefined) checkName(opts.name);
  const namespaces = parseSharedNamespaces(opts.namespaces ?? {});
  const exposed = opts.publishAll ? (opts.config?.ExposedPorts ?? []) : [];
  const network = parseNetwork(opts.network, [...(opts.publish ?? []), ...exposed], opts.networkAliases);
  checkSharingConflicts(opts, namespaces, network.spec);
  const hostname = opts.hostname ?? (namespaces.uts ? osHostname() : id.slice(0, 12));
  if (!namespaces.uts) checkHostname(hostname);
  const imageWorkdir = opts.config?.WorkingDir;
  const workdir = opts.workdir ?? (imageWorkdir ? resolve("/", imageWorkdir) : "/");
  if (!isAbsolute(workdir)) throw new CboxError(`--workdir must be an absolute path: ${workdir}`);
  const user = resolveUser(opts.user ?? opts.config?.User ?? "0", layers, opts.groupAdd);
  const env = containerEnv(opts, hostEnv, { hostname, home: user.home, image: opts.config?.Env ?? [] });
  const mounts = (opts.mounts ?? []).map(parseMount);
  const volumes = [...(opts.volumes ?? []).map(parseVolume), ...mounts.flatMap((m) => (m.kind === "tmpfs" ? [] : [m.volume]))];
  const tmpfs = [...(opts.tmpfs ?? []).map(parseTmpfs), ...mounts.flatMap((m) => (m.kind === "tmpfs" ? [m.tmpfs] : []))];
  checkDistinctTargets([...volumes, ...tmpfs].map((m) => m.target));
  if (network.warning) warn(network.warning);
  const userns = parseUserns(opts.userns);
  const inUserNamespace = process.getuid!() !== 0 || userns === "private";
  const sharedNetwork = network.spec.mode === "host" || network.spec.mode === "container" ? `--network ${opts.network}` : undefined;
  return {
    id,
    name: opts.name ?? "",
    rootfs,
    layers,
    image: opts.image ?? { ref: "", id: "" },
    command: opts.command,
    env,
    workdir,
    user,
    hostname,
    interactive: opts.interactive,
    tty: !!opts.tty,
    remove: opts.remove,
    stopTimeout: parseStopTimeout(opts.stopTimeout),
    stopSignal: stopSignalOf(opts),
    init: !!opts.init,
    volumes,
    tmpfs,
    userns,
    limits: parseLimits(opts.resources ?? {}, onlineCpus),
    security: parseSecurity(opts.security ?? {}, checkSeccompProfile),
    network: network.spec,
    devices: parseDevices(opts.devices ?? []),
    ulimits: opts.ulimits?.length ? parseUlimits(opts.ulimits, ulimitHost(inUserNamespace)) : [],
    sysctls: parseSysctls(opts.sysctls ?? [], { network: sharedNetwork, ipc: namespaces.ipc && `--ipc ${opts.namespaces!.ipc}` }),
    etc: parseEtcFlags(opts.etc ?? {}, network.spec.mode !== "none"),
    namespaces,
    restart: restartPolicyOf(opts),
    shmSize: opts.shmSize === undefined ? undefined : parseBytes("--shm-size", opts.shmSize),
    labels: { ...opts.config?.Labels, ...parseLabels(opts.labels ?? []) },
    oomScoreAdj: opts.oomScoreAdj === undefined ? undefined : parseOomScoreAdj(opts.oomScoreAdj, inUserNamespace),
    domainname: opts.domainname === undefined ? undefined : checkDomainname(opts.domainname),
  };
}

/** --restart: refused with --rm (docker's rule) and in the foreground (only a detached container has a monitor to restart it). */
function restartPolicyOf(opts: RunOptions): RestartPolicy | undefined {
  const policy = parseRestartPolicy(opts.restart);
  if (policy && opts.remove) throw new CboxError(`--restart ${opts.restart}: not with --rm (a container removed at its end cannot start again)`);
  if (policy && opts.detach === false) throw new CboxError(`--restart ${opts.restart}: needs -d; with no daemon, a detached container's monitor is what restarts it`);
  return policy;
}

/** docker's conflicting options: what a shared namespace already decides cannot be set too. */
function checkSharingConflicts(opts: RunOptions, namespaces: SharedNamespaces, network: NetworkSpec): void {
  if (namespaces.uts && opts.hostname !== undefined) throw new CboxError("--hostname: the container shares the host's UTS namespace (--uts host), so its host name is the host's");
  if (namespaces.uts && opts.domainname !== undefined) throw new CboxError("--domainname: the container shares the host's UTS namespace (--uts host), so its domain name is the host's");
  if (network.mode !== "container") return;
  const where = `--network container:${network.container}`;
  if (opts.hostname !== undefined) throw new CboxError(`--hostname: not with ${where}, whose host name and /etc files the container uses`);
  const etc = opts.etc ?? {};
  const etcFlag = etc.addHosts?.length ? "--add-host" : etc.dns?.length ? "--dns" : etc.dnsSearch?.length ? "--dns-search" : etc.dnsOptions?.length ? "--dns-option" : undefined;
  if (etcFlag) throw new CboxError(`${etcFlag}: not with ${where}: the container uses that container's /etc/hosts and /etc/resolv.conf`);
}

/** --label KEY=VALUE (a bare KEY: an empty value, as docker). */
export function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    const key = eq < 0 ? value : value.slice(0, eq);
    if (!key || /\s/.test(key)) throw new CboxError(`--label ${JSON.stringify(value)}: expected KEY=VALUE`);
    labels[key] = eq < 0 ? "" : value.slice(eq + 1);
  }
  return labels;
}

/**
 * -1000..1000. Going below cbox's own score needs CAP_SYS_RESOURCE in the host's user namespace,
 * which a container in a user namespace of its own never has: refused here, not as EACCES later.
 */
function parseOomScoreAdj(value: string, inUserNamespace: boolean): number {
  const n = /^-?\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(n >= -1000 && n <= 1000)) throw new CboxError(`--oom-score-adj ${value}: expected a whole number from -1000 to 1000`);
  const own = Number(readFileSync("/proc/self/oom_score_adj", "utf8"));
  if (n < own && (inUserNamespace || !hasEffectiveCapability("CAP_SYS_RESOURCE"))) {
    throw new CboxError(`--oom-score-adj ${value}: below cbox's own (${own}), which needs CAP_SYS_RESOURCE on the host${inUserNamespace ? " (a container with a user namespace has none there)" : ""}; ask for ${own} or more`);
  }
  return n;
}

function checkDomainname(name: string): string {
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,63})$/.test(name)) throw new CboxError(`--domainname ${JSON.stringify(name)}: not a valid domain name (letters, digits, '.', '-'; at most 64)`);
  return name;
}

/** --stop-signal, else the image's StopSignal (refused when it names no signal), else SIGTERM. */
function stopSignalOf(opts: RunOptions): number {
  const [value, flag] = opts.stopSignal !== undefined ? [opts.stopSignal, "--stop-signal"] : [opts.config?.StopSignal ?? "TERM", `the image's StopSignal`];
  const n = signalNumber(value);
  if (n === undefined) throw new CboxError(`${flag} ${JSON.stringify(value)}: not a signal (a name such as TERM or QUIT, or 1-64)`);
  return n;
}

/** Two mounts on one path: the second would hide the first, which docker refuses too. */
function checkDistinctTargets(targets: string[]): void {
  const twice = targets.find((t, i) => targets.indexOf(t) !== i);
  if (twice) throw new CboxError(`${twice}: two mounts on the same container path`);
}

function parseUserns(value: string | undefined): UsernsMode {
  if (value === undefined || value === "" || value === "host") return "host";
  if (value !== "private") throw new CboxError(`--userns ${JSON.stringify(value)}: expected host or private`);
  return "private";
}

function parseStopTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_STOP_TIMEOUT;
  if (!/^\d{1,6}$/.test(value)) throw new CboxError(`--stop-timeout ${JSON.stringify(value)}: expected a number of seconds`);
  return Number(value);
}

function checkRootfs(rootfs: string): void {
  let isDir = false;
  try {
    isDir = statSync(rootfs).isDirectory();
  } catch {
    throw new CboxError(`--rootfs ${rootfs}: no such directory`);
  }
  if (!isDir) throw new CboxError(`--rootfs ${rootfs}: not a directory`);
  const problem = overlayPathProblem(rootfs);
  if (problem) throw new CboxError(`--rootfs: ${problem}`);
}

/** what: how the error names the value (the flag, or "new name" for rename). */
export function checkName(name: string, what = "--name"): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(name)) {
    throw new CboxError(`${what} ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
}

function checkHostname(name: string): void {
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(name)) {
    throw new CboxError(`--hostname ${JSON.stringify(name)}: not a valid host name (letters, digits, '.', '-'; at most 63)`);
  }
}
