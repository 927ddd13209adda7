// --pid, --ipc, --uts and --network container:X: namespaces a container shares with the host or
// with another running container instead of getting its own (docker's modes). Only root's
// containers share: a container with a user namespace of its own may not mount /proc or mqueue
// for namespaces that user namespace does not own, nor join another container's.
import { CboxError } from "../errors.ts";
import { CloneFlag, type SharedAtClone } from "../linux/namespaces.ts";
import type { Paths } from "../paths.ts";
import { childrenOf } from "../linux/proc.ts";
import { liveState, pid1Alive } from "./status.ts";
import { containerDirs, readSpec, readState, resolveContainer } from "./store-read.ts";
import type { ContainerDirs } from "./plan.ts";
import type { ContainerSpec } from "./spec.ts";

/** Where a namespace comes from: the host's, or the one of a container (its id once resolved). */
export type NamespaceSource = { kind: "host" } | { kind: "container"; ref: string };

export interface SharedNamespaces {
  pid?: NamespaceSource;
  ipc?: NamespaceSource;
  uts?: { kind: "host" };
  /** --ipc shareable: other containers may join this one's IPC namespace. */
  ipcShareable?: boolean;
}

export interface NamespaceFlags {
  pid?: string;
  ipc?: string;
  uts?: string;
}

export function parseSharedNamespaces(flags: NamespaceFlags): SharedNamespaces {
  const shared: SharedNamespaces = {};
  if (flags.pid !== undefined && flags.pid !== "" && flags.pid !== "private") shared.pid = parseSource("--pid", flags.pid, "host, container:NAME or private");
  if (flags.ipc === "shareable") shared.ipcShareable = true;
  else if (flags.ipc !== undefined && flags.ipc !== "" && flags.ipc !== "private") shared.ipc = parseSource("--ipc", flags.ipc, "private, shareable, host or container:NAME");
  if (flags.uts !== undefined && flags.uts !== "" && flags.uts !== "private") {
    if (flags.uts !== "host") throw new CboxError(`--uts ${JSON.stringify(flags.uts)}: expected host or private`);
    shared.uts = { kind: "host" };
  }
  return shared;
}

function parseSource(flag: string, value: string, expected: string): NamespaceSource {
  if (value === "host") return { kind: "host" };
  const ref = /^container:(.+)$/.exec(value)?.[1];
  if (ref === undefined) throw new CboxError(`${flag} ${JSON.stringify(value)}: expected ${expected}`);
  return { kind: "container", ref };
}

/** What the container shares at clone; network: its --network mode. */
export function sharedAtClone(spec: Pick<ContainerSpec, "namespaces" | "network">): SharedAtClone {
  const ns = spec.namespaces ?? {};
  return { net: spec.network.mode === "host" || spec.network.mode === "container", pid: !!ns.pid, ipc: !!ns.ipc, uts: !!ns.uts };
}

/** Sharing needs root's containers: refused for a user namespace, in one line naming the flag. */
export function checkSharingAllowed(spec: Pick<ContainerSpec, "namespaces" | "network">, userNamespace: boolean): void {
  if (!userNamespace) return;
  const ns = spec.namespaces ?? {};
  const asked = [
    ns.pid && `--pid ${describe(ns.pid)}`,
    ns.ipc && `--ipc ${describe(ns.ipc)}`,
    ns.uts && "--uts host",
    spec.network.mode === "container" && "--network container:NAME",
  ].find(Boolean);
  if (asked) {
    const who = process.getuid!() === 0 ? "--userns private gives it" : "an ordinary user's container has";
    throw new CboxError(`${asked}: ${who} a user namespace of its own, which cannot share these namespaces; run as root without --userns private`);
  }
}

function describe(source: NamespaceSource): string {
  return source.kind === "host" ? "host" : `container:${source.ref}`;
}

/** The refs in container:NAME modes as container ids: a name may later go to another container. */
export function resolveSharedRefs(spec: ContainerSpec, paths: Paths): void {
  const ns = spec.namespaces ?? {};
  const resolve = (flag: string, ref: string) => {
    try {
      return resolveContainer(paths, ref);
    } catch (err) {
      throw new CboxError(`${flag} container:${ref}: ${(err as Error).message}`);
    }
  };
  if (ns.pid?.kind === "container") ns.pid.ref = resolve("--pid", ns.pid.ref);
  if (ns.ipc?.kind === "container") ns.ipc.ref = resolve("--ipc", ns.ipc.ref);
  if (spec.network.mode !== "container") return;
  const id = resolve("--network", spec.network.container!);
  spec.network.container = id;
  // docker's rule: a container on another's network has that one's host name.
  const dir = containerDirs(paths, id).dir;
  const state = readState(dir);
  const theirs = state && readSpec(dir, state)?.hostname;
  if (theirs) {
    spec.env = spec.env.map((e) => (e === `HOSTNAME=${spec.hostname}` ? `HOSTNAME=${theirs}` : e));
    spec.hostname = theirs;
  }
}

/** A running container whose namespaces are joined: its process that holds them, and its folder. */
export interface JoinedContainer {
  holder: number;
  dirs: ContainerDirs;
  spec: ContainerSpec;
  /** Whether it still runs (its PID 1 not replaced): checked again once the new one is made. */
  alive: () => boolean;
}

/** The containers the spec joins, each checked to run; refused in one line otherwise. */
export function joinedContainers(spec: ContainerSpec, paths: Paths): { pid?: JoinedContainer; ipc?: JoinedContainer; net?: JoinedContainer } {
  const ns = spec.namespaces ?? {};
  const joined = (flag: string, id: string | undefined) => (id === undefined ? undefined : runningContainer(flag, id, paths));
  const ipc = joined("--ipc", ns.ipc?.kind === "container" ? ns.ipc.ref : undefined);
  if (ipc && !ipc.spec.namespaces?.ipcShareable) {
    throw new CboxError(`--ipc container:${ipc.spec.name || ipc.spec.id.slice(0, 12)}: its IPC namespace is private; start it with --ipc shareable to share it`);
  }
  return {
    pid: joined("--pid", ns.pid?.kind === "container" ? ns.pid.ref : undefined),
    ipc,
    net: joined("--network", spec.network.mode === "container" ? spec.network.container : undefined),
  };
}

function runningContainer(flag: string, id: string, paths: Paths): JoinedContainer {
  const dirs = containerDirs(paths, id);
  const state = readState(dirs.dir);
  const spec = state && readSpec(dirs.dir, state);
  const name = state?.name || id.slice(0, 12);
  if (!state || !spec || liveState(state) !== "running" || !pid1Alive(state)) throw new CboxError(`${flag} container:${name}: that container is not running; start it first`);
  return { holder: namespaceHolder(spec, state.pid!), dirs, spec, alive: () => pid1Alive(state) };
}

/**
 * A process whose namespaces cbox may open: PID 1, or for --init the command it runs. The init
 * is a copy of cbox kept non-dumpable (nothing inside may read it), and /proc/PID/ns of a
 * non-dumpable process is closed to an ordinary user.
 */
export function namespaceHolder(spec: ContainerSpec, pid: number): number {
  return (spec.init && childrenOf(pid)[0]) || pid;
}

/** The /dev/shm of a shared IPC namespace: the host's, or the other container's (in its mount namespace). */
export function sharedShm(spec: ContainerSpec, joined: ReturnType<typeof joinedContainers>): { bind: string } | { mountNamespace: string } | undefined {
  if (joined.ipc) return { mountNamespace: `/proc/${joined.ipc.holder}/ns/mnt` };
  return spec.namespaces?.ipc?.kind === "host" ? { bind: "/dev/shm" } : undefined;
}

/** The namespace files the child joins itself (net, ipc), in setns order. */
export function childJoins(joined: ReturnType<typeof joinedContainers>): { path: string; type: number }[] {
  return [
    ...(joined.ipc ? [{ path: `/proc/${joined.ipc.holder}/ns/ipc`, type: CloneFlag.newipc }] : []),
    ...(joined.net ? [{ path: `/proc/${joined.net.holder}/ns/net`, type: CloneFlag.newnet }] : []),
  ];
}
