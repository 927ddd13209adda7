// Restart policies with no daemon: a detached container's monitor records its end and, as the
// policy says, starts it again after docker's back-off; stop and kill are respected.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cbox, isRoot, rootfsFixture, type Result } from "./helpers.ts";

const fx = rootfsFixture();
const c = (args: string[]) => cbox([args[0]!, "--root", fx.store, ...args.slice(1)]);
const inspect = (name: string) => JSON.parse(c(["inspect", name]).stdout)[0];

/** Polls (every 100 ms, up to 15 s) until check holds; whether it did. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 150; i++) {
    if (check()) return true;
    await Bun.sleep(100);
  }
  return check();
}

function runsIn(dir: string): number {
  return existsSync(join(dir, "runs")) ? readFileSync(join(dir, "runs"), "utf8").split("\n").filter(Boolean).length : 0;
}

function volume(name: string): string {
  const dir = join(fx.work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  return dir;
}

describe.skipIf(!isRoot)("restart policies", () => {
  test("--restart on-failure:3: a command that keeps failing runs exactly 4 times, then stays exited", async () => {
    const out = volume("flaky");
    try {
      expect(c(["run", "-d", "--name", "flaky", "--network", "none", "--restart", "on-failure:3", "-v", `${out}:/out`, "--rootfs", fx.rootfs, "sh", "-c", "echo run >> /out/runs; exit 3"]).code).toBe(0);
      expect(await eventually(() => {
        const now = inspect("flaky");
        return now.State.Status === "exited" && now.RestartCount === 3;
      })).toBe(true);
      await Bun.sleep(1500); // longer than the back-off a fourth restart would wait
      expect(runsIn(out)).toBe(4);
      const info = inspect("flaky");
      expect(info).toMatchObject({ RestartCount: 3, State: { Status: "exited", ExitCode: 3, Restarting: false }, HostConfig: { RestartPolicy: { Name: "on-failure", MaximumRetryCount: 3 } } });
    } finally {
      c(["rm", "-f", "flaky"]);
    }
  });

  test("on-failure does not restart a success", async () => {
    const out = volume("fine");
    try {
      expect(c(["run", "-d", "--name", "fine", "--network", "none", "--restart", "on-failure", "-v", `${out}:/out`, "--rootfs", fx.rootfs, "sh", "-c", "echo run >> /out/runs"]).code).toBe(0);
      expect(await eventually(() => inspect("fine").State.Status === "exited")).toBe(true);
      await Bun.sleep(500);
      expect([runsIn(out), inspect("fine").RestartCount]).toEqual([1, 0]);
    } finally {
      c(["rm", "-f", "fine"]);
    }
  });

  test("--restart always comes back after its process is killed; cbox stop ends it for good, and so does cbox kill", async () => {
    try {
      expect(c(["run", "-d", "--name", "svc", "--network", "none", "--restart", "always", "--rootfs", fx.rootfs, "sleep", "300"]).code).toBe(0);
      const first = inspect("svc").State.Pid;
      process.kill(first, "SIGKILL");
      expect(await eventually(() => {
        const now = inspect("svc").State; // one read: two could see two states
        return now.Running && now.Pid !== first;
      })).toBe(true);
      expect(inspect("svc").RestartCount).toBe(1);
      expect(c(["ps"]).stdout).toMatch(/Up .* +svc\n/);

      expect(c(["stop", "-t", "1", "svc"]).code).toBe(0);
      await Bun.sleep(1000);
      expect(inspect("svc").State).toMatchObject({ Status: "exited", Running: false });

      expect(c(["start", "svc"]).code).toBe(0);
      expect(inspect("svc").RestartCount).toBe(0); // started by hand: counted afresh
      expect(c(["kill", "svc"]).code).toBe(0);
      expect(await eventually(() => inspect("svc").State.Status === "exited")).toBe(true);
      await Bun.sleep(1000);
      expect(inspect("svc").State.Status).toBe("exited");
    } finally {
      c(["rm", "-f", "svc"]);
    }
  });

  test("while it waits to restart, ps shows Restarting (CODE); stop then ends the wait", async () => {
    try {
      expect(c(["run", "-d", "--name", "crashy", "--network", "none", "--restart", "always", "--rootfs", fx.rootfs, "sh", "-c", "exit 7"]).code).toBe(0);
      // The back-off doubles from 100 ms: from the third restart on, a wait (800 ms and more) is long enough to look at twice.
      expect(await eventually(() => {
        const now = inspect("crashy"); // one read: two could see two states
        return now.State.Restarting && now.RestartCount >= 3;
      })).toBe(true);
      expect(c(["ps"]).stdout).toMatch(/Restarting \(7\) .* ago +crashy\n/);
      expect(inspect("crashy").State).toMatchObject({ Status: "restarting", Restarting: true, Running: false });
      expect(c(["stop", "crashy"]).code).toBe(0);
      expect(inspect("crashy").State.Status).toBe("exited");
      const count = inspect("crashy").RestartCount;
      await Bun.sleep(1500);
      expect(inspect("crashy").RestartCount).toBe(count);
    } finally {
      c(["rm", "-f", "crashy"]);
    }
  });

  test("a stop at any moment of a restart loop (waiting, starting, running) returns with the container exited, and it stays so", async () => {
    try {
      for (const afterMs of [0, 40, 90, 130, 180, 260, 330, 420]) {
        expect(c(["run", "-d", "--name", "loop", "--network", "none", "--restart", "always", "--rootfs", fx.rootfs, "sh", "-c", "exit 7"]).code).toBe(0);
        await Bun.sleep(afterMs);
        expect(c(["stop", "loop"]).code).toBe(0);
        expect(inspect("loop").State).toMatchObject({ Status: "exited", Running: false, Restarting: false });
        await Bun.sleep(250);
        expect(inspect("loop").State.Status).toBe("exited");
        expect(c(["rm", "loop"]).code).toBe(0);
      }
    } finally {
      c(["rm", "-f", "loop"]);
    }
  });

  test("after a reboot, start --all-restarting brings back always, and unless-stopped unless it was stopped", () => {
    try {
      for (const [name, policy] of [["alw", "always"], ["unl", "unless-stopped"], ["unl-stopped", "unless-stopped"], ["plain", "no"]]) {
        expect(c(["run", "-d", "--name", name!, "--network", "none", "--restart", policy!, "--rootfs", fx.rootfs, "sleep", "300"]).code).toBe(0);
      }
      expect(c(["stop", "-t", "0", "unl-stopped", "alw"]).code).toBe(0);
      // A reboot, as cbox sees it: every owner gone without recording an end.
      for (const name of ["unl", "plain"]) {
        const info = inspect(name);
        const monitor = Number(readFileSync(`/proc/${info.State.Pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
        process.kill(monitor, "SIGKILL");
        process.kill(info.State.Pid, "SIGKILL");
      }
      const r = c(["start", "--all-restarting"]);
      expect(r.code).toBe(0);
      expect(r.stdout.split("\n").filter(Boolean).sort()).toEqual([inspect("alw").Id, inspect("unl").Id].sort());
      expect(c(["ps", "--format", "json"]).stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l).Names).sort()).toEqual(["alw", "unl"]);
    } finally {
      for (const name of ["alw", "unl", "unl-stopped", "plain"]) c(["rm", "-f", name]);
    }
  });

  test("bad inputs: one line, 125, nothing made", () => {
    const cases: [string[], string][] = [
      [["-d", "--restart", "sometimes"], `--restart "sometimes": expected no, on-failure[:MAX-RETRIES], always or unless-stopped`],
      [["-d", "--restart", "on-failure:x"], `--restart "on-failure:x": expected no`],
      [["-d", "--rm", "--restart", "always"], "--restart always: not with --rm (a container removed at its end cannot start again)"],
      [["--restart", "always"], "--restart always: needs -d; with no daemon, a detached container's monitor is what restarts it"],
    ];
    for (const [flags, message] of cases) {
      const r: Result = c(["run", "--network", "none", ...flags, "--rootfs", fx.rootfs, "true"]);
      expect(r.stderr).toStartWith(`cbox: ${message}`);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.code).toBe(125);
    }
    expect(existsSync(join(fx.store, "containers")) ? readdirSync(join(fx.store, "containers")).filter((d) => /^[0-9a-f]{64}$/.test(d)) : []).toEqual([]);
    expect(c(["start", "--all-restarting", "x"])).toMatchObject({ code: 125, stderr: "cbox: cbox start --all-restarting takes no containers: it starts every one whose restart policy says so\n" });
  });
});
