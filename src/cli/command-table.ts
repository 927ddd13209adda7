// cbox's commands: each loaded only when it runs (start-up counts), and docker's management
// commands (`cbox image SUB`, ...) as names of them. main.ts and `cbox completion` read these.
import type { CommandDef } from "citty";
import type { FlagDefs } from "./flags.ts";

export const commands: Record<string, () => Promise<{ default: CommandDef<any>; args: FlagDefs }>> = {
  run: () => import("./commands/run.ts"),
  create: () => import("./commands/create.ts"),
  rm: () => import("./commands/rm.ts"),
  ps: () => import("./commands/ps.ts"),
  inspect: () => import("./commands/inspect.ts"),
  port: () => import("./commands/port.ts"),
  start: () => import("./commands/start.ts"),
  stop: () => import("./commands/stop.ts"),
  restart: () => import("./commands/restart.ts"),
  attach: () => import("./commands/attach.ts"),
  kill: () => import("./commands/kill.ts"),
  pause: () => import("./commands/pause.ts"),
  unpause: () => import("./commands/unpause.ts"),
  rename: () => import("./commands/rename.ts"),
  top: () => import("./commands/top.ts"),
  stats: () => import("./commands/stats.ts"),
  update: () => import("./commands/update.ts"),
  logs: () => import("./commands/logs.ts"),
  exec: () => import("./commands/exec.ts"),
  wait: () => import("./commands/wait.ts"),
  pull: () => import("./commands/pull.ts"),
  login: () => import("./commands/login.ts"),
  logout: () => import("./commands/logout.ts"),
  images: () => import("./commands/images.ts"),
  rmi: () => import("./commands/rmi.ts"),
  tag: () => import("./commands/tag.ts"),
  load: () => import("./commands/load.ts"),
  save: () => import("./commands/save.ts"),
  "image inspect": () => import("./commands/image-inspect.ts"),
  "image prune": () => import("./commands/image-prune.ts"),
  import: () => import("./commands/import.ts"),
  "volume create": () => import("./commands/volume-create.ts"),
  "volume ls": () => import("./commands/volume-ls.ts"),
  "volume inspect": () => import("./commands/volume-inspect.ts"),
  "volume rm": () => import("./commands/volume-rm.ts"),
  "volume prune": () => import("./commands/volume-prune.ts"),
  cp: () => import("./commands/cp.ts"),
  diff: () => import("./commands/diff.ts"),
  export: () => import("./commands/export.ts"),
  "container prune": () => import("./commands/container-prune.ts"),
  "system prune": () => import("./commands/system-prune.ts"),
  "system df": () => import("./commands/system-df.ts"),
  info: () => import("./commands/info.ts"),
  "network create": () => import("./commands/network-create.ts"),
  "network ls": () => import("./commands/network-ls.ts"),
  "network inspect": () => import("./commands/network-inspect.ts"),
  "network rm": () => import("./commands/network-rm.ts"),
  "network connect": () => import("./commands/network-connect.ts"),
  "network disconnect": () => import("./commands/network-disconnect.ts"),
  completion: () => import("./commands/completion.ts"),
  _exited: () => import("./commands/exited.ts"),
  _names: () => import("./commands/names.ts"),
  _cp: () => import("./commands/cp-side.ts"),
};

/** docker's management commands (`cbox image SUB`, `cbox container SUB`, `cbox volume SUB`, ...): each SUB is one of the commands above. */
export const groups: Record<string, { description: string; commands: Record<string, string> }> = {
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
