// Running the host's tools for the server test: each command either succeeds or throws one line
// naming the command and the last lines it printed.
import { appendFileSync, readFileSync } from "node:fs";

export class StepError extends Error {}
/** A step stopped by Ctrl-C (SIGINT) or SIGTERM. */
export class InterruptedError extends StepError {}

/**
 * Runs cmd; its output goes to logFile when one is given (appended), else it is kept for the error.
 * With a signal, cmd runs in a process group of its own, which the signal's abort ends (what
 * debootstrap starts too: dpkg, the packages' scripts), so that what it worked on can be removed.
 */
export async function run(cmd: string[], opts: { logFile?: string; stdin?: string; cwd?: string; signal?: AbortSignal } = {}): Promise<string> {
  if (opts.logFile) appendFileSync(opts.logFile, `$ ${cmd.join(" ")}\n`);
  if (opts.signal?.aborted) throw new InterruptedError(`${cmd[0]} was not started: interrupted`);
  const proc = Bun.spawn(opts.signal ? ["setsid", ...cmd] : cmd, {
    cwd: opts.cwd,
    stdin: opts.stdin ? Bun.file(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let ended: Promise<void> | undefined;
  const stop = () => void (ended = endGroup(proc));
  opts.signal?.addEventListener("abort", stop, { once: true });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  opts.signal?.removeEventListener("abort", stop);
  if (opts.logFile) appendFileSync(opts.logFile, out + err);
  if (ended) {
    await ended;
    throw new InterruptedError(`${cmd[0]} was stopped: interrupted`);
  }
  if (code !== 0) {
    const said = opts.logFile ? lastLines(readFileSync(opts.logFile, "utf8"), 15) : lastLines(out + err, 15);
    throw new StepError(`${cmd[0]} exited with ${code}${opts.logFile ? ` (log: ${opts.logFile})` : ""}:\n${said}`);
  }
  return out;
}

/** SIGTERM to the process group proc leads (setsid made it one); SIGKILL to what is left of it once its leader ended, or 5 s later. */
async function endGroup(proc: Bun.Subprocess): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid, signal);
    } catch {
      // the group is gone
    }
  };
  signalGroup("SIGTERM");
  await Promise.race([proc.exited, Bun.sleep(5000)]);
  signalGroup("SIGKILL");
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}
