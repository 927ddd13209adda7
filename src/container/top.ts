// `cbox top CONTAINER [ps OPTIONS]`: the host's ps, run with the options given (default -ef), keeping
// its header and the rows of the container's processes, as docker top does.
import { writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { containerProcesses } from "./processes.ts";
import { resolveContainer } from "./remove.ts";
import { liveState, pid1Alive } from "./status.ts";
import { containerDirs, readState } from "./store.ts";

export function topContainer(operands: string[], paths: Paths): number {
  const [ref, ...psArgs] = operands;
  if (ref === undefined) throw new CboxError("cbox top needs a container: cbox top CONTAINER [ps OPTIONS]");
  const state = readState(containerDirs(paths, resolveContainer(paths, ref)).dir);
  if (!state || liveState(state) !== "running" || !pid1Alive(state)) throw new CboxError(`container ${ref} is not running`);
  const ps = Bun.which("ps");
  if (!ps) throw new CboxError("cbox top runs the host's ps, and ps is not installed (Debian and Ubuntu: apt-get install procps)");
  const args = psArgs.length ? psArgs : ["-ef"];
  const res = Bun.spawnSync([ps, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  if (res.exitCode !== 0) {
    const why = res.stderr.toString().trim().split("\n")[0] || `exit status ${res.exitCode}`;
    throw new CboxError(`ps ${args.join(" ")}: ${why}`);
  }
  writeSync(1, containerRows(res.stdout.toString(), new Set(containerProcesses(state)), args));
  return 0;
}

/** ps's header and the rows whose PID is one of pids. */
export function containerRows(output: string, pids: Set<number>, args: string[] = []): string {
  const [header = "", ...rows] = output.split("\n").filter((line) => line.trim());
  const column = header.trim().split(/\s+/).indexOf("PID");
  if (column < 0) throw new CboxError(`ps ${args.join(" ")}: its output has no PID column; give options that show it (such as -ef, or -o pid,args)`);
  const kept = rows.filter((row) => pids.has(Number(row.trim().split(/\s+/)[column])));
  return [header, ...kept].map((line) => `${line}\n`).join("");
}
