import { defineCommand } from "citty";
import { runContainer } from "../../container/run.ts";
import type { RunOptions } from "../../container/spec.ts";
import { storagePaths } from "../../paths.ts";
import { pullFlags, pullOptionsOf, resourceFlags, resourceOptionsOf, rootFlag, type CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";

export const args = {
  ...rootFlag,
  ...pullFlags,
  rootfs: { type: "string", description: "Use this directory as the (read-only) lower layer instead of an image" },
  entrypoint: { type: "string", description: "Run this instead of the image's entrypoint (and drop its command; \"\" for none)" },
  rm: { type: "boolean", description: "Remove the container when it exits" },
  detach: { type: "boolean", alias: "d", description: "Run in the background and print the container's id" },
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
  volume: { type: "string", alias: "v", multiple: true, description: "Bind a host path into the container: HOST:CONTAINER[:ro]" },
  tmpfs: { type: "string", multiple: true, description: "Mount a new tmpfs: PATH[:size=64m,mode=1777,exec,...]" },
  mount: { type: "string", multiple: true, description: "Mount: type=bind,source=HOST,target=PATH[,readonly] or type=tmpfs,target=PATH[,tmpfs-size=64m]" },
  "read-only": { type: "boolean", description: "Mount the container's root read-only (volumes and --tmpfs stay writable)" },
  "cap-add": { type: "string", multiple: true, description: "Add a capability to the default set (NET_ADMIN, ..., ALL)" },
  "cap-drop": { type: "string", multiple: true, description: "Drop a capability from the default set (CHOWN, ..., ALL)" },
  privileged: { type: "boolean", description: "All capabilities, no seccomp filter, no masked paths, any device: only for what you trust" },
  "security-opt": { type: "string", multiple: true, description: "seccomp=unconfined, seccomp=FILE.json (docker's format), no-new-privileges" },
  network: { type: "string", alias: "net", description: "Network: bridge (default; cbox0, or slirp4netns for a user), none (loopback only) or host" },
  publish: { type: "string", alias: "p", multiple: true, description: "Publish a port: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp] (no HOST_PORT: a free one)" },
  "publish-all": { type: "boolean", alias: "P", description: "Publish every port the image exposes, each on a free host port" },
  userns: { type: "string", description: "User namespace: host (root's default) or private (0..65535 on a range of their own)" },
  init: { type: "boolean", description: "Run a minimal init as PID 1 that forwards signals and reaps zombies" },
  ...resourceFlags,
  quiet: { type: "boolean", alias: "q", description: "Say nothing while pulling the image" },
} satisfies FlagDefs;

export default defineCommand({
  meta: { name: "run", description: "Run a command in a new container: cbox run [FLAGS] IMAGE [CMD...], or --rootfs DIR CMD..." },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    const paths = storagePaths(a.root);
    let source: Pick<RunOptions, "rootfs" | "layers" | "image" | "command" | "config"> = { rootfs: a.rootfs, command: a.entrypoint ? [a.entrypoint, ...a._] : a._ };
    if (!a.rootfs) {
      // Loaded only here: the image code stays off the start path of --rootfs runs.
      const { imageForRun } = await import("../../image/use.ts");
      source = await imageForRun(paths, a._, a.entrypoint, () => ({
        ...pullOptionsOf(a),
        progress: a.quiet ? "quiet" : process.stderr.isTTY ? "bar" : "lines",
        out: process.stderr,
      }));
    }
    return runContainer(
      {
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
        detach: !!a.detach,
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
        security: {
          capAdd: a["cap-add"] ?? [],
          capDrop: a["cap-drop"] ?? [],
          privileged: !!a.privileged,
          securityOpt: a["security-opt"] ?? [],
          readOnly: !!a["read-only"],
        },
        resources: resourceOptionsOf(a),
      },
      paths,
    );
  },
});
