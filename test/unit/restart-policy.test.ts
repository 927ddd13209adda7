// --restart: parsing, and docker's decision and back-off at a container's end.
import { describe, expect, test } from "bun:test";
import { FIRST_DELAY_MS, parseRestartPolicy, restartDecision, restartsAtBoot } from "../../src/container/restart-policy.ts";
import { thrown } from "./helpers.ts";

const ended = { exitCode: 1, manuallyStopped: false, restartCount: 0, ranMs: 50, lastDelayMs: 0 };

describe("--restart", () => {
  test("docker's four policies; no is none", () => {
    expect(parseRestartPolicy("no")).toBeUndefined();
    expect(parseRestartPolicy("always")).toEqual({ name: "always" });
    expect(parseRestartPolicy("unless-stopped")).toEqual({ name: "unless-stopped" });
    expect(parseRestartPolicy("on-failure")).toEqual({ name: "on-failure" });
    expect(parseRestartPolicy("on-failure:5")).toEqual({ name: "on-failure", maxRetries: 5 });
    expect(thrown(() => parseRestartPolicy("always:3")).message).toBe(`--restart "always:3": expected no, on-failure[:MAX-RETRIES], always or unless-stopped`);
  });

  test("on-failure: only a failure, and at most N restarts", () => {
    const policy = { name: "on-failure" as const, maxRetries: 3 };
    expect(restartDecision(policy, { ...ended, exitCode: 0 })).toEqual({ restart: false });
    expect(restartDecision(policy, { ...ended, restartCount: 2 })).toEqual({ restart: true, delayMs: FIRST_DELAY_MS });
    expect(restartDecision(policy, { ...ended, restartCount: 3 })).toEqual({ restart: false });
  });

  test("the back-off doubles up to a minute, and starts again at 100 ms after 10 s up; stop or kill: never", () => {
    const always = { name: "always" as const };
    expect(restartDecision(always, { ...ended, exitCode: 0, lastDelayMs: 100 })).toEqual({ restart: true, delayMs: 200 });
    expect(restartDecision(always, { ...ended, lastDelayMs: 51_200 })).toEqual({ restart: true, delayMs: 60_000 });
    expect(restartDecision(always, { ...ended, lastDelayMs: 6400, ranMs: 10_000 })).toEqual({ restart: true, delayMs: 100 });
    expect(restartDecision(always, { ...ended, manuallyStopped: true })).toEqual({ restart: false });
  });

  test("at boot: always even when stopped by hand; unless-stopped only when not", () => {
    expect(restartsAtBoot({ name: "always" }, true)).toBe(true);
    expect(restartsAtBoot({ name: "unless-stopped" }, false)).toBe(true);
    expect(restartsAtBoot({ name: "unless-stopped" }, true)).toBe(false);
    expect(restartsAtBoot({ name: "on-failure" }, false)).toBe(false);
    expect(restartsAtBoot(undefined, false)).toBe(false);
  });
});
