// Hooks the runtime runs in its own namespaces: the program gets the container's state on stdin.
import { CboxError } from "../errors.ts";
import type { OciHook } from "./config.ts";

/** Runs each hook in order; the first that fails or outlasts its timeout is a one-line error naming it. */
export function runHooks(kind: string, hooks: OciHook[] | undefined, state: Record<string, unknown>): void {
  for (const [i, hook] of (hooks ?? []).entries()) runHook(kind, i, hook, state);
}

/** poststart and poststop: a failed hook is a warning, and the others still run (the spec's rule). */
export function runHooksWarning(kind: string, hooks: OciHook[] | undefined, state: Record<string, unknown>, warn: (msg: string) => void): void {
  for (const [i, hook] of (hooks ?? []).entries()) {
    try {
      runHook(kind, i, hook, state);
    } catch (err) {
      warn((err as Error).message);
    }
  }
}

function runHook(kind: string, i: number, hook: OciHook, state: Record<string, unknown>): void {
  const argv = hook.args?.length ? hook.args : [hook.path];
  let res;
  try {
    res = Bun.spawnSync({
      cmd: [hook.path, ...argv.slice(1)],
      argv0: argv[0],
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
      stdin: Buffer.from(JSON.stringify(state)),
      stdout: "pipe",
      stderr: "pipe",
      timeout: hook.timeout ? hook.timeout * 1000 : undefined,
    });
  } catch (err) {
    throw new CboxError(`hooks.${kind}[${i}] ${hook.path}: cannot run it: ${(err as Error).message}`);
  }
  if (res.exitCode !== 0) {
    const why = res.signalCode ? `killed by ${res.signalCode}${hook.timeout ? ` (timeout ${hook.timeout}s)` : ""}` : `exit code ${res.exitCode}`;
    const said = res.stderr.toString().trim().split("\n").pop();
    throw new CboxError(`hooks.${kind}[${i}] ${hook.path}: ${why}${said ? `: ${said}` : ""}`);
  }
}
