// ps, inspect, stop and kill on containers that run in the foreground of another cbox.
import { describe, expect, test } from "bun:test";
import { cbox, cboxSpawn, containerPid, isRoot, OutputReader, rootfsFixture } from "./helpers.ts";

const fx = rootfsFixture();
const c = (args: string[]) => cbox([args[0]!, "--root", fx.store, ...args.slice(1)]);

/** A named container running script in the background of this test; resolves once it printed ready. */
async function start(name: string, script: string, flags: string[] = []) {
  const proc = cboxSpawn(["run", "--root", fx.store, "--name", name, ...flags, "--rootfs", fx.rootfs, "sh", "-c", `${script}`]);
  const out = new OutputReader(proc.stdout);
  await out.until("ready");
  return { proc, out };
}

describe.skipIf(!isRoot)("ps, inspect, stop, kill", () => {
  test("ps lists a running container with docker's columns; ps -a, -q and --format json", async () => {
    const { proc } = await start("lister", "echo ready; sleep 100");
    const ps = c(["ps"]);
    expect(ps.code).toBe(0);
    const [header, row] = ps.stdout.split("\n");
    expect(header).toMatch(/^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/);
    expect(row).toMatch(/^[0-9a-f]{12} +\S+ +"sh -c echo ready; s…" +\S.* ago +Up .* +lister$/);
    const json = JSON.parse(c(["ps", "--format", "json"]).stdout);
    expect(json).toMatchObject({ Names: "lister", State: "running", Image: fx.rootfs });
    expect(c(["ps", "-q"]).stdout).toBe(`${json.ID.slice(0, 12)}\n`);
    expect(c(["kill", "lister"]).stdout).toBe("lister\n");
    expect(await proc.exited).toBe(137);
    expect(c(["ps"]).stdout.split("\n").filter(Boolean)).toHaveLength(1); // the header only
    expect(c(["ps", "-a"]).stdout).toMatch(/Exited \(137\) .* ago +lister\n/);
    expect(c(["rm", "lister"]).code).toBe(0);
  });

  test("inspect: id, name, command, state with the PID 1 the host sees, limits, mounts; then the exit", async () => {
    const { proc } = await start("looked-at", "echo ready; sleep 100", ["-m", "64m", "-v", `${fx.rootfs}/etc:/hostetc:ro`]);
    const [running] = JSON.parse(c(["inspect", "looked-at"]).stdout);
    expect(running).toMatchObject({
      Name: "looked-at",
      Command: ["sh", "-c", "echo ready; sleep 100"],
      State: { Status: "running", Running: true, Pid: containerPid(proc.pid), ExitCode: null, OOMKilled: false },
      Limits: { memory: 64 << 20 },
      Mounts: [{ Type: "bind", Source: `${fx.rootfs}/etc`, Destination: "/hostetc", RW: false }],
    });
    expect(running.Id).toMatch(/^[0-9a-f]{64}$/);
    c(["kill", "looked-at"]);
    await proc.exited;
    const [ended] = JSON.parse(c(["inspect", running.Id.slice(0, 10)]).stdout);
    expect(ended.State).toMatchObject({ Status: "exited", Running: false, Pid: 0, ExitCode: 137 });
    expect(Date.parse(ended.State.FinishedAt)).toBeGreaterThanOrEqual(Date.parse(ended.State.StartedAt));
    c(["rm", "looked-at"]);
  });

  test("stop: a PID 1 that ignores SIGTERM ends by SIGKILL when -t is up", async () => {
    const { proc } = await start("stubborn", "echo ready; sleep 100");
    const t0 = Date.now();
    expect(c(["stop", "-t", "1", "stubborn"])).toMatchObject({ code: 0, stdout: "stubborn\n" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(await proc.exited).toBe(137);
    expect(c(["ps", "-a"]).stdout).toMatch(/Exited \(137\)/);
    c(["rm", "stubborn"]);
  });

  test("stop: a PID 1 that handles SIGTERM ends on it, with its own code", async () => {
    const { proc } = await start("polite", "trap 'exit 3' TERM; echo ready; while :; do sleep 0.1; done");
    expect(c(["stop", "-t", "30", "polite"]).code).toBe(0);
    expect(await proc.exited).toBe(3);
    expect(c(["ps", "-a", "--format", "json"]).stdout).toContain('"Status":"Exited (3)');
    c(["rm", "polite"]);
  });

  test("kill -s sends the signal named to PID 1", async () => {
    const { proc, out } = await start("signalled", "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.1; done");
    expect(c(["kill", "-s", "SIGUSR1", "signalled"]).code).toBe(0);
    expect(await out.until("got-usr1")).toContain("got-usr1");
    expect(c(["kill", "-s", "9", "signalled"]).code).toBe(0);
    expect(await proc.exited).toBe(137);
    c(["rm", "signalled"]);
  });

  test("after its cbox is killed with SIGKILL, ps -a shows the container exited and rm removes it", async () => {
    const { proc } = await start("orphaned", "echo ready; sleep 100");
    proc.kill("SIGKILL");
    await proc.exited;
    await Bun.sleep(100);
    expect(c(["ps"]).stdout).not.toContain("orphaned");
    expect(c(["ps", "-a"]).stdout).toMatch(/ Exited .* ago +orphaned\n/);
    expect(c(["rm", "orphaned"]).code).toBe(0);
    expect(c(["ps", "-a", "-q"]).stdout).toBe("");
  });

  test("bad input: one line, 125", async () => {
    const r = cbox(["run", "--root", fx.store, "--name", "done", "--rootfs", fx.rootfs, "true"]);
    expect(r.code).toBe(0);
    const cases: [string[], string][] = [
      [["kill", "done"], "cbox: container done is not running\n"],
      [["kill", "-s", "BOGUS", "done"], 'cbox: --signal "BOGUS": not a signal (a name such as TERM or KILL, or 1-64)\n'],
      [["stop", "nope"], "cbox: no such container: nope\n"],
      [["stop", "-t", "soon", "done"], 'cbox: --time "soon": expected a number of seconds\n'],
      [["inspect", "nope"], "cbox: no such container: nope\n"],
      [["ps", "--format", "yaml"], 'cbox: --format "yaml": use table or json\n'],
      [["kill"], "cbox: cbox kill needs at least one container\n"],
    ];
    for (const [args, message] of cases) expect(c(args)).toMatchObject({ code: 125, stderr: message });
    // stopping a container that is not running is not an error, as with docker
    expect(c(["stop", "done"])).toMatchObject({ code: 0, stdout: "done\n" });
    c(["rm", "done"]);
  });
});
