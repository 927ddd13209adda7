// `cbox ps` and `cbox inspect`: containers as tables and JSON, docker's columns and fields.
import { humanDuration, table } from "../cli/output.ts";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { liveState, shownState, statusText, type LiveState } from "./status.ts";
import { containerDirs, listContainerIds, readState, scanStore, type StoreScan } from "./store-read.ts";
import type { ContainerSpec, Volume } from "./spec.ts";
import type { NamespaceSource } from "./shared-namespaces.ts";
import type { ContainerState } from "./store.ts";
import { volumeNameOf } from "./volume-name.ts";

/** A container and what it is doing now. */
export type Listed = StoreScan["containers"][number];

export function containerStates(paths: Paths): ContainerState[] {
  const states = listContainerIds(paths)
    .map((id) => readState(containerDirs(paths, id).dir))
    .filter((s): s is ContainerState => s !== undefined);
  return newestFirst(states, (s) => s);
}

/**
 * Every container, newest first, each read and its owner checked once. When a killed cbox left
 * something behind, the store is recovered first (as before any command); only then is the code
 * that does it loaded.
 */
export async function listContainers(paths: Paths): Promise<Listed[]> {
  let scan = scanStore(paths);
  if (scan.stale) {
    const { recoverStaleStore } = await import("./remove.ts");
    recoverStaleStore(paths);
    scan = scanStore(paths);
  }
  return newestFirst(scan.containers, (c) => c.state);
}

/** created is toISOString()'s fixed-width UTC text: its order as text is its order in time (no Date.parse, measured in ps). */
function newestFirst<T>(items: T[], stateOf: (item: T) => ContainerState): T[] {
  return items.sort((a, b) => {
    const x = stateOf(a).created;
    const y = stateOf(b).created;
    return x < y ? 1 : x > y ? -1 : 0;
  });
}

/** Published ports while it runs, as docker's PORTS column: 0.0.0.0:8080->80/tcp. */
export function portsText(state: ContainerState, live?: LiveState): string {
  const ports = publishedPorts(state, live);
  if (ports.length === 0) return "";
  return ports
    .map((p) => `${p.hostIp || "0.0.0.0"}:${p.hostPort}->${p.containerPort}/${p.proto}`)
    .join(", ");
}

/** What `cbox port` prints: 80/tcp -> 0.0.0.0:8080, one a line; only the container port asked for. */
export function formatPort(state: ContainerState, wanted?: string): string {
  const ports = publishedPorts(state).filter((p) => !wanted || wanted === `${p.containerPort}/${p.proto}` || wanted === String(p.containerPort));
  if (wanted && ports.length === 0) throw new CboxError(`no public port '${wanted}' published for ${state.id.slice(0, 12)}`);
  return ports.map((p) => `${wanted ? "" : `${p.containerPort}/${p.proto} -> `}${p.hostIp || "0.0.0.0"}:${p.hostPort}\n`).join("");
}

function publishedPorts(state: ContainerState, live?: LiveState) {
  const net = state.network;
  return net && !net.released && (live ?? liveState(state)) === "running" ? net.ports : [];
}

/** What the IMAGE column shows: the image reference, or the folder given with --rootfs. */
function imageOf(state: ContainerState): string {
  return state.image || state.rootfs;
}

/** The command as docker shows it: quoted, cut to 20 characters. */
function commandText(command: string[]): string {
  const text = command.join(" ");
  return JSON.stringify(text.length > 20 ? `${text.slice(0, 19)}…` : text);
}

export function formatPs(states: ContainerState[], format: string | undefined, now = Date.now()): string {
  return formatListed(states.map((state) => ({ state, live: liveState(state) })), format, now);
}

export function formatListed(listed: Listed[], format: string | undefined, now = Date.now()): string {
  const containers = listed.map(({ state, live }) => ({ state, live, shown: shownState(state, live) }));
  if (format === "json") {
    const lines = containers.map(({ state: s, live, shown }) =>
      JSON.stringify({
        ID: s.id,
        Image: imageOf(s),
        Command: s.command.join(" "),
        CreatedAt: s.created,
        RunningFor: humanDuration(now - Date.parse(s.created)),
        State: shown,
        Status: statusText(s, now, shown),
        Ports: portsText(s, live),
        Names: s.name,
      }),
    );
    return lines.map((l) => `${l}\n`).join("");
  }
  if (format !== undefined && format !== "table") throw new CboxError(`--format ${JSON.stringify(format)}: use table or json`);
  return table(
    ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
    containers.map(({ state: s, live, shown }) => [s.id.slice(0, 12), imageOf(s), commandText(s.command), `${humanDuration(now - Date.parse(s.created))} ago`, statusText(s, now, shown), portsText(s, live), s.name]),
  );
}

/** One container as `cbox inspect` shows it. */
export function inspectObject(s: ContainerState, spec: ContainerSpec | undefined): Record<string, unknown> {
  const live = liveState(s);
  const shown = shownState(s, live);
  return {
    Id: s.id,
    Name: s.name,
    Image: s.image,
    ImageId: s.imageId,
    Rootfs: s.rootfs,
    Command: s.command,
    Created: s.created,
    State: {
      Status: shown,
      Running: live === "running",
      Paused: shown === "paused",
      Restarting: live === "restarting",
      Pid: live === "running" ? (s.pid ?? 0) : 0,
      ExitCode: s.exitCode ?? null,
      OOMKilled: !!s.oomKilled,
      StartedAt: s.started ?? null,
      FinishedAt: s.finished ?? null,
    },
    Mounts: (s.volumes ?? []).map(mountObject),
    Limits: s.limits ?? {},
    Cgroups: s.cgroups ?? [],
    NetworkSettings: networkSettings(s, spec),
    RestartCount: s.restartCount ?? 0,
    StopTimeout: s.stopTimeout ?? null,
    AutoRemove: s.remove,
    Config: { Domainname: spec?.domainname ?? "", Labels: spec?.labels ?? {} },
    HostConfig: hostConfig(spec),
  };
}

/** docker inspect's Mounts entry: a bound host path, or a volume of the store with its name. */
function mountObject(v: Volume): Record<string, unknown> {
  const name = volumeNameOf(v);
  if (name === undefined) return { Type: "bind", Source: v.source, Destination: v.target, RW: !v.readonly };
  return { Type: "volume", Name: name, Source: v.source, Destination: v.target, Driver: "local", RW: !v.readonly };
}

function namespaceMode(source: NamespaceSource | undefined): string {
  return !source ? "" : source.kind === "host" ? "host" : `container:${source.ref}`;
}

/** docker inspect's HostConfig, the fields of run's flags that cbox keeps in the spec. */
function hostConfig(spec: ContainerSpec | undefined): Record<string, unknown> {
  const etc = spec?.etc ?? {};
  return {
    Devices: (spec?.devices ?? []).map((d) => ({ PathOnHost: d.host, PathInContainer: d.path, CgroupPermissions: d.access })),
    Ulimits: (spec?.ulimits ?? []).map((u) => ({ Name: u.name, Soft: Number(u.soft), Hard: Number(u.hard) })),
    ExtraHosts: (etc.hosts ?? []).map((h) => `${h.name}:${h.ip}`),
    Dns: etc.dns?.servers ?? [],
    DnsSearch: etc.dns?.search ?? [],
    DnsOptions: etc.dns?.options ?? [],
    ShmSize: spec?.shmSize ?? 64 * 1024 * 1024,
    Sysctls: spec?.sysctls ?? {},
    OomScoreAdj: spec?.oomScoreAdj ?? 0,
    RestartPolicy: { Name: spec?.restart?.name ?? "no", MaximumRetryCount: spec?.restart?.maxRetries ?? 0 },
    PidMode: namespaceMode(spec?.namespaces?.pid),
    IpcMode: spec?.namespaces?.ipcShareable ? "shareable" : namespaceMode(spec?.namespaces?.ipc) || "private",
    UTSMode: spec?.namespaces?.uts ? "host" : "",
  };
}

/** docker inspect's NetworkSettings, the parts cbox has. */
function networkSettings(s: ContainerState, spec: ContainerSpec | undefined): Record<string, unknown> {
  const net = s.network;
  const live = net && !net.released && liveState(s) === "running";
  return {
    Mode: spec?.network?.mode === "container" ? `container:${spec.network.container}` : (spec?.network?.network ?? net?.mode ?? spec?.network?.mode ?? "none"),
    IPAddress: live ? (net.ip ?? "") : "",
    IPPrefixLen: live ? (net.prefix ?? 0) : 0,
    Gateway: live ? (net.gateway ?? "") : "",
    Aliases: net?.aliases ?? [],
    Ports: Object.fromEntries((live ? net.ports : []).map((p) => [`${p.containerPort}/${p.proto}`, [{ HostIp: p.hostIp || "0.0.0.0", HostPort: String(p.hostPort) }]])),
  };
}
