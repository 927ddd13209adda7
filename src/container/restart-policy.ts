// --restart no|on-failure[:N]|always|unless-stopped, kept without a daemon: when a detached
// container ends, its monitor becomes `cbox _exited`, which records the end and, when the policy
// says so, waits docker's back-off and starts the container again (restart-loop.ts).
import { CboxError } from "../errors.ts";

export interface RestartPolicy {
  name: "no" | "on-failure" | "always" | "unless-stopped";
  /** on-failure:N: at most N restarts; absent: no limit. */
  maxRetries?: number;
}

export function parseRestartPolicy(value: string | undefined): RestartPolicy | undefined {
  if (value === undefined || value === "" || value === "no") return undefined;
  const m = /^(on-failure)(?::(\d{1,6}))?$|^(always|unless-stopped)$/.exec(value);
  if (!m) throw new CboxError(`--restart ${JSON.stringify(value)}: expected no, on-failure[:MAX-RETRIES], always or unless-stopped`);
  if (m[3]) return { name: m[3] as "always" | "unless-stopped" };
  return { name: "on-failure", ...(m[2] !== undefined && { maxRetries: Number(m[2]) }) };
}

/** What a container's end leads to: restart it or not, and after how long. */
export interface RestartFacts {
  exitCode: number | null;
  /** The user stopped or killed it (cbox stop, cbox kill): no policy brings it back. */
  manuallyStopped: boolean;
  restartCount: number;
  /** How long it ran this time, and the delay before the restart that started it. */
  ranMs: number;
  lastDelayMs: number;
}

/** docker's back-off: 100 ms, doubled at every restart, at most a minute; back to 100 ms after 10 s up. */
export const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const RESET_AFTER_MS = 10_000;

export function restartDecision(policy: RestartPolicy | undefined, f: RestartFacts): { restart: false } | { restart: true; delayMs: number } {
  if (!policy || f.manuallyStopped) return { restart: false };
  if (policy.name === "on-failure") {
    if (f.exitCode === 0) return { restart: false };
    if (policy.maxRetries !== undefined && f.restartCount >= policy.maxRetries) return { restart: false };
  }
  const delayMs = f.ranMs >= RESET_AFTER_MS || f.lastDelayMs === 0 ? FIRST_DELAY_MS : Math.min(f.lastDelayMs * 2, MAX_DELAY_MS);
  return { restart: true, delayMs };
}

/** After a reboot (`cbox start --all-restarting`): always, and unless-stopped when not stopped by the user. */
export function restartsAtBoot(policy: RestartPolicy | undefined, manuallyStopped: boolean): boolean {
  return policy?.name === "always" || (policy?.name === "unless-stopped" && !manuallyStopped);
}
