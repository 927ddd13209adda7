// Running the host's tools for the server test: each command either succeeds or throws one line
// naming the command and the last lines it printed.
import { appendFileSync, readFileSync } from "node:fs";

export class StepError extends Error {}

/** Runs cmd; its output goes to logFile when one is given (appended), else it is kept for the error. */
export async function run(cmd: string[], opts: { logFile?: string; stdin?: string; cwd?: string } = {}): Promise<string> {
  if (opts.logFile) appendFileSync(opts.logFile, `$ ${cmd.join(" ")}\n`);
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd,
    stdin: opts.stdin ? Bun.file(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (opts.logFile) appendFileSync(opts.logFile, out + err);
  if (code !== 0) {
    const said = opts.logFile ? lastLines(readFileSync(opts.logFile, "utf8"), 15) : lastLines(out + err, 15);
    throw new StepError(`${cmd[0]} exited with ${code}${opts.logFile ? ` (log: ${opts.logFile})` : ""}:\n${said}`);
  }
  return out;
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}
