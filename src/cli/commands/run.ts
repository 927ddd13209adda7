import { defineCommand } from "../define.ts";
import { CboxError } from "../../errors.ts";
import { parseAttachStreams } from "../../container/attach.ts";
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from "../../container/detach-keys.ts";
import { runContainer } from "../../container/run.ts";
import type { RunOptions } from "../../container/spec.ts";
import { storagePaths, type Paths } from "../../paths.ts";
import { pullFlags, pullOptionsOf, resourceFlags, resourceOptionsOf, rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

/** What a container is made with: the flags of run and create (create.ts), so that the two never drift. */
export const containerArgs = {
  ...rootFlag,
  ...pullFlags,
  pull: { type: "string", description: "When to pull the image: missing (the default), always or never" },
  rootfs: { type: "string", description: "Use this directory as the (read-only) lower layer instead of an image" },
  entrypoint: { type: "string", description: "Run this instead of the image's entrypoint (and drop its command; \"\" for none)" },
  rm: { type: "boolean", description: "Remove the container when it exits" },
  name: { type: "string", description: "Name the container" },
  env: { type: "string", alias: "e", multiple: true, description: "Set an environment variable (NAME=VALUE, or NAME to copy it)" },
  "env-file": { type: "string", multiple: true, description: "Read environment variables from a file" },
  workdir: { type: "string", alias: "w", description: "Working directory inside the container" },
  user: { type: "string", alias: "u", description: "User to run as: UID[:GID] or NAME[:GROUP]" },
  hostname: { type: "string", alias: "h", description: "Container host name" },
  interactive: { type: "boolean", alias: "i", description: "Keep stdin open and pass it to the container" },
  tty: { type: "boolean", alias: "t", description: "Give the container a new terminal (pty)" },
  "stop-timeout": { type: "string", description: "Seconds from SIGTERM/SIGHUP to cbox until the container is killed (default 10, 0: never)" },
  "stop-signal": { type: "string", description: "What cbox stop sends first (default: the image's StopSignal, or TERM)" },
  volume: { type: "string", alias: "v", multiple: true, description: "Bind a host path or a volume (made on first use): HOST-PATH|VOLUME:CONTAINER[:ro], or CONTAINER alone (an anonymous volume)" },
  tmpfs: { type: "string", multiple: true, description: "Mount a new tmpfs: PATH[:size=64m,mode=1777,exec,...]" },
  mount: { type: "string", multiple: true, description: "Mount: type=bind,source=HOST,target=PATH[,readonly], type=volume[,source=VOLUME],target=PATH[,readonly] or type=tmpfs,target=PATH[,tmpfs-size=64m]" },
  "read-only": { type: "boolean", description: "Mount the container's root read-only (volumes and --tmpfs stay writable)" },
  "cap-add": { type: "string", multiple: true, description: "Add a capability to the default set (NET_ADMIN, ..., ALL)" },
  "cap-drop": { type: "string", multiple: true, description: "Drop a capability from the default set (CHOWN, ..., ALL)" },
  privileged: { type: "boolean", description: "All capabilities, no seccomp filter, no masked paths, any device: only for what you trust" },
  "security-opt": { type: "string", multiple: true, description: "seccomp=unconfined, seccomp=FILE.json (docker's format), no-new-privileges" },
  network: { type: "string", alias: "net", description: "Network: bridge (default; cbox0, or slirp4netns for a user), none (loopback only), host, container:NAME, or a named network" },
  restart: { type: "string", description: "Restart policy of a detached container: no (default), on-failure[:MAX-RETRIES], always, unless-stopped" },
  "network-alias": { type: "string", alias: "net-alias", multiple: true, description: "Another name the container has on its named network" },
  publish: { type: "string", alias: "p", multiple: true, description: "Publish a port: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp] (no HOST_PORT: a free one)" },
  "publish-all": { type: "boolean", alias: "P", description: "Publish every port the image exposes, each on a free host port" },
  userns: { type: "string", description: "User namespace: host (root's default) or private (0..65535 on a range of their own)" },
  init: { type: "boolean", description: "Run a minimal init as PID 1 that forwards signals and reaps zombies" },
  ...resourceFlags,
  quiet: { type: "boolean", alias: "q", description: "Say nothing while pulling the image" },
  device: { type: "string", multiple: true, description: "Give a host device: HOST[:CONTAINER][:rwm] (a folder such as /dev/snd gives every node in it)" },
  "group-add": { type: "string", multiple: true, description: "Add a supplementary group: a name in the image's /etc/group, or a number" },
  ulimit: { type: "string", multiple: true, description: "Set a resource limit: NAME=SOFT[:HARD], such as nofile=1024:4096 (-1: unlimited)" },
  "add-host": { type: "string", multiple: true, description: "Add a line to /etc/hosts: NAME:IP (host-gateway: the host as the container reaches it)" },
  dns: { type: "string", multiple: true, description: "Name server for /etc/resolv.conf (replaces the host's)" },
  "dns-search": { type: "string", multiple: true, description: "Search domain for /etc/resolv.conf" },
  "dns-option": { type: "string", multiple: true, description: "Resolver option for /etc/resolv.conf, such as ndots:2" },
  "shm-size": { type: "string", description: "Size of /dev/shm: 64m (default), 1g or bytes" },
  sysctl: { type: "string", multiple: true, description: "Set a namespaced kernel setting: NAME=VALUE (net.*, fs.mqueue.*, kernel.shm*, kernel.msg*, kernel.sem)" },
  label: { type: "string", alias: "l", multiple: true, description: "Set a label: KEY=VALUE" },
  cidfile: { type: "string", description: "Write the container's id to this file (which must not exist)" },
  "oom-score-adj": { type: "string", description: "The container's OOM score adjustment, -1000 to 1000" },
  domainname: { type: "string", description: "Container NIS domain name" },
  pid: { type: "string", description: "PID namespace: private (default), host, or container:NAME to share another container's" },
  ipc: { type: "string", description: "IPC namespace: private (default), shareable (others may join it), host, or container:NAME (a shareable one)" },
  uts: { type: "string", description: "UTS namespace (host and domain name): private (default) or host" },
} satisfies FlagDefs;

export const args = {
  ...containerArgs,
  detach: { type: "boolean", alias: "d", description: "Run in the background and print the container's id" },
  attach: { type: "string", alias: "a", multiple: true, description: "Attach only these streams: STDIN, STDOUT or STDERR (the others go to cbox logs)" },
  "sig-proxy": { type: "boolean", description: "Pass the signals cbox gets on to the container (default true; false: Ctrl-C leaves it running)" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "run", description: "Run a command in a new container: cbox run [FLAGS] IMAGE [CMD...], or --rootfs DIR CMD..." },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    const paths = storagePaths(a.root);
    if (a.detach && a.attach?.length) throw new CboxError("-a and -d conflict: a detached container's output goes to its log (cbox logs), or attach with cbox attach");
    const streams = parseAttachStreams(a.attach, !!a.interactive);
    // Through a monitor, as cbox attach: unattached streams go to the log, and a signal that ends cbox leaves the container running.
    const viaMonitor = !a.detach && (!!a.attach?.length || a["sig-proxy"] === false);
    const attach = viaMonitor ? { ...streams, once: true, sigProxy: a["sig-proxy"] !== false, detachKeys: parseDetachKeys(DEFAULT_DETACH_KEYS) } : undefined;
    return runContainer({ ...(await containerOptionsOf(a, paths)), detach: !!a.detach }, paths, attach);
  },
});

/** The container's options from the flags of run and create, its image pulled if it must be. */
export async function containerOptionsOf(a: CommandArgs<typeof containerArgs>, paths: Paths): Promise<RunOptions> {
  let source: Pick<RunOptions, "rootfs" | "layers" | "image" | "command" | "config"> = { rootfs: a.rootfs, command: a.entrypoint ? [a.entrypoint, ...a._] : a._ };
  if (a.rootfs && a.pull !== undefined) throw new CboxError("--pull is for images: --rootfs runs a folder, which is never pulled");
  if (!a.rootfs) {
    // Loaded only here: the image code stays off the start path of --rootfs runs.
    const { imageForRun, parsePullPolicy } = await import("../../image/use.ts");
    const policy = parsePullPolicy(a.pull);
    source = await imageForRun(paths, a._, a.entrypoint, () => ({
      ...pullOptionsOf(a),
      progress: a.quiet ? "quiet" : process.stderr.isTTY ? "bar" : "lines",
      out: process.stderr,
    }), policy);
  }
  return {
    ...source,
    name: a.name,
    env: a.env ?? [],
    envFiles: a["env-file"] ?? [],
    workdir: a.workdir,
    user: a.user,
    hostname: a.hostname,
    interactive: !!a.interactive,
    tty: !!a.tty,
    remove: !!a.rm,
    stopTimeout: a["stop-timeout"],
    stopSignal: a["stop-signal"],
    publishAll: !!a["publish-all"],
    init: !!a.init,
    volumes: a.volume ?? [],
    tmpfs: a.tmpfs ?? [],
    mounts: a.mount ?? [],
    userns: a.userns,
    network: a.network,
    publish: a.publish ?? [],
    devices: a.device,
    groupAdd: a["group-add"],
    ulimits: a.ulimit,
    sysctls: a.sysctl,
    etc: { addHosts: a["add-host"], dns: a.dns, dnsSearch: a["dns-search"], dnsOptions: a["dns-option"] },
    shmSize: a["shm-size"],
    labels: a.label,
    cidfile: a.cidfile,
    oomScoreAdj: a["oom-score-adj"],
    domainname: a.domainname,
    networkAliases: a["network-alias"],
    restart: a.restart,
    namespaces: { pid: a.pid, ipc: a.ipc, uts: a.uts },
    security: {
      capAdd: a["cap-add"] ?? [],
      capDrop: a["cap-drop"] ?? [],
      privileged: !!a.privileged,
      securityOpt: a["security-opt"] ?? [],
      readOnly: !!a["read-only"],
    },
    resources: resourceOptionsOf(a),
  };
}
