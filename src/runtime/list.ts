// list and ps: the runtime's containers, and the processes of one.
import { CboxError } from "../errors.ts";
import { table } from "../cli/output.ts";
import { containerPids, specState, type StateDir } from "./state.ts";

export function listContainers(states: StateDir, format: string, quiet: boolean): string {
  const all = states.ids().flatMap((id) => {
    const state = states.read(id);
    return state ? [specState(state, states.status(state))] : [];
  });
  if (quiet) return all.map((s) => `${s.id}\n`).join("");
  if (format === "json") return `${JSON.stringify(all)}\n`;
  if (format !== "table") throw new CboxError(`--format ${format}: use table or json`);
  return table(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], all.map((s) => [String(s.id), String(s.pid), String(s.status), String(s.bundle), String(s.created), "root"]));
}

/** The pids in the container's cgroup: as JSON, or `ps -f` of them (psArgs: ps's own flags instead). */
export function psContainer(states: StateDir, id: string, format: string, psArgs: string[]): string {
  const state = states.load(id);
  if (states.status(state) === "stopped") throw new CboxError(`container ${id} is not running`);
  const pids = containerPids(state);
  if (format === "json") return `${JSON.stringify(pids)}\n`;
  if (format !== "table") throw new CboxError(`--format ${format}: use table or json`);
  const res = Bun.spawnSync(["ps", ...(psArgs.length ? psArgs : ["-f"]), "-p", pids.join(",") || "0"], { stdout: "pipe", stderr: "pipe" });
  if (res.exitCode !== 0 && res.exitCode !== 1) throw new CboxError(`ps: ${res.stderr.toString().trim() || `exit code ${res.exitCode}`}`);
  return res.stdout.toString();
}
