// Detached containers (run -d) and what people do with them: logs, exec, stop, start, wait, rm.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { cbox, cboxAsync, cboxCgroups, cboxSpawn, hostMounts, isRoot, OutputReader, processesWith, procStat, removeDir, rootfsFixture, tempDir } from "./helpers.ts";
import { TerminalSession } from "./terminal.ts";

const fx = rootfsFixture();
const c = (args: string[]) => cbox([args[0]!, "--root", fx.store, ...args.slice(1)]);

/** run -d NAME: the id it printed. */
function runDetached(name: string, command: string[], flags: string[] = []): string {
  const r = c(["run", "-d", "--name", name, ...flags, "--rootfs", fx.rootfs, ...command]);
  expect(r).toMatchObject({ code: 0, stderr: "" });
  expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  return r.stdout.trim();
}

function inspect(ref: string) {
  return JSON.parse(c(["inspect", ref]).stdout)[0];
}

/** Pids of the `sleep SECONDS` processes (a monitor keeps the command line of the cbox it was forked from). */
function sleepers(seconds: string): number[] {
  return processesWith(`sleep ${seconds}`)
    .filter((p) => p.split(" ")[1] === "sleep")
    .map((p) => Number(p.split(" ")[0]));
}

/** Pids of every live monitor on the host (their command name; their command line is cbox's). */
function monitors(): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8") === "cbox-monitor\n" && procStat(Number(pid))[0] !== "Z";
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(20)) if (check()) return true;
  return check();
}

describe.skipIf(!isRoot)("run -d and the lifecycle of a detached container", () => {
  // A failed test must not leave containers running into the next one.
  afterEach(() => {
    const left = c(["ps", "-a", "-q"]).stdout.split("\n").filter(Boolean);
    if (left.length) c(["rm", "-f", ...left]);
  });

  test("a detached sleeper survives the terminal that started it; its monitor is its parent, in a session of its own", async () => {
    const dir = tempDir();
    try {
      const marker = "sleep 3001";
      const s = new TerminalSession(["run", "-d", "--root", fx.store, "--name", "sleeper", "--rootfs", fx.rootfs, "sh", "-c", marker], dir);
      expect(await s.exitCode()).toBe(0);
      expect(s.screen).toMatch(/[0-9a-f]{64}\r\n/);
      s.proc.kill("SIGHUP"); // the terminal is gone
      await Bun.sleep(200);
      const state = inspect("sleeper").State;
      expect(state).toMatchObject({ Status: "running", Running: true });
      const [pid1State, monitor] = procStat(state.Pid);
      expect(pid1State).not.toBe("Z");
      expect(readFileSync(`/proc/${monitor}/comm`, "utf8")).toBe("cbox-monitor\n");
      const monitorStat = procStat(Number(monitor));
      expect(monitorStat[3]).toBe(monitor); // session id: its own session
      expect(procStat(state.Pid)[3]).toBe(String(state.Pid)); // the container leads another one
      // the monitor holds no descriptor of the terminal or of cbox: only its pipes, the log, /dev/null
      const fds = readdirSync(`/proc/${monitor}/fd`).map((fd) => readlinkSync(`/proc/${monitor}/fd/${fd}`));
      expect(fds.filter((t) => t.startsWith("/dev/pts"))).toEqual([]);
      expect(fds.filter((t) => t.startsWith("/") && t !== "/dev/null").map((t) => t.split("/").pop())).toEqual(["container.log"]);
      expect(c(["ps"]).stdout).toMatch(/Up .* +sleeper\n/);
      expect(c(["rm", "-f", "sleeper"])).toMatchObject({ code: 0, stdout: "sleeper\n" });
      expect(processesWith(marker)).toEqual([]);
    } finally {
      removeDir(dir);
    }
  });

  test("exec joins the container: the same namespaces, hostname, files and cgroups; -e, -u, -w; exit codes", async () => {
    runDetached("target", ["sh", "-c", "echo from-pid1 > /tmp/shared; sleep 3002"], ["--hostname", "box7", "-e", "GREETING=hi"]);
    const pid1 = inspect("target").State.Pid;
    expect(await eventually(() => c(["exec", "target", "cat", "/tmp/shared"]).stdout === "from-pid1\n")).toBe(true);
    const names = ["cgroup", "ipc", "mnt", "net", "pid", "uts"];
    const inside = c(["exec", "target", "sh", "-c", `for n in ${names.join(" ")}; do readlink /proc/self/ns/$n; done; hostname; echo $GREETING; cat /proc/1/cmdline | tr '\\0' ' '`]);
    expect(inside.code).toBe(0);
    const lines = inside.stdout.split("\n");
    expect(lines.slice(0, names.length)).toEqual(names.map((n) => readlinkSync(`/proc/${pid1}/ns/${n}`)));
    expect(lines.slice(names.length, names.length + 3)).toEqual(["box7", "hi", "sleep 3002 "]); // the shell exec'd its last command
    expect(lines).toHaveLength(names.length + 3);
    // a file written by exec is there for PID 1's processes, in the same mount namespace
    expect(c(["exec", "target", "sh", "-c", "echo from-exec > /tmp/back"]).code).toBe(0);
    expect(readFileSync(`/proc/${pid1}/root/tmp/back`, "utf8")).toBe("from-exec\n");
    // the exec'd process is in the container's cgroups, as the host sees them
    const execed = cboxSpawn(["exec", "--root", fx.store, "target", "sleep", "3003"]);
    expect(await eventually(() => sleepers("3003").length === 1)).toBe(true);
    const [sleepPid] = sleepers("3003");
    expect(readFileSync(`/proc/${sleepPid}/cgroup`, "utf8")).toBe(readFileSync(`/proc/${pid1}/cgroup`, "utf8"));
    execed.kill("SIGTERM"); // forwarded: the sleep ends, and exec with it
    expect(await execed.exited).toBe(143);
    expect(c(["exec", "-u", "1000:1000", "-w", "/tmp", "-e", "X=1", "target", "sh", "-c", "id -u; id -g; pwd; echo $X $HOME"]).stdout).toBe("1000\n1000\n/tmp\n1 /\n");
    expect(c(["exec", "target", "sh", "-c", "exit 7"]).code).toBe(7);
    expect(c(["exec", "target", "nothere"])).toMatchObject({ code: 127, stderr: 'cbox: exec "nothere": executable file not found in $PATH\n' });
    expect(cbox(["exec", "-i", "--root", fx.store, "target", "cat"], { stdin: "through stdin\n" }).stdout).toBe("through stdin\n");
    c(["rm", "-f", "target"]);
  });

  test("exec -t gets a terminal of its own", async () => {
    runDetached("tty-target", ["sleep", "3004"]);
    const dir = tempDir();
    try {
      const s = new TerminalSession(["exec", "-it", "--root", fx.store, "tty-target", "/bin/sh"], dir);
      await s.until("/ # ");
      s.type("tty; echo pid=$$\r");
      await s.until("/dev/pts/0");
      await s.until("pid=");
      s.type("exit 5\r");
      expect(await s.exitCode()).toBe(5);
    } finally {
      removeDir(dir);
    }
    c(["rm", "-f", "tty-target"]);
  });

  test("logs: stdout and stderr apart, --tail, -t; logs -f streams new lines and ends with the container", async () => {
    runDetached("talker", ["sh", "-c", "echo out-1; echo err-1 >&2; printf part; sleep 0.3; echo ial; i=2; while [ $i -le 40 ]; do echo out-$i; i=$((i+1)); sleep 0.1; done"]);
    const follow = cboxSpawn(["logs", "-f", "--root", fx.store, "talker"]);
    const out = new OutputReader(follow.stdout);
    await out.until("out-3\n");
    const early = out.seen;
    await out.until("out-20\n"); // written after logs -f started: streamed
    expect(early).not.toContain("out-20");
    expect(await follow.exited).toBe(0); // it ends when the container does
    const all = await out.all();
    expect(all).toBe(`out-1\npartial\n${Array.from({ length: 39 }, (_, i) => `out-${i + 2}\n`).join("")}`);
    expect(await new Response(follow.stderr).text()).toBe("err-1\n");
    expect(c(["logs", "--tail", "2", "talker"]).stdout).toBe("out-39\nout-40\n");
    const stamped = c(["logs", "-t", "--tail", "1", "talker"]).stdout;
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out-40\n$/);
    expect(Math.abs(Date.parse(stamped.split(" ")[0]!) - Date.now())).toBeLessThan(60_000);
    expect(c(["wait", "talker"]).stdout).toBe("0\n");
    c(["rm", "talker"]);
  });

  test("stop: a detached PID 1 that ignores SIGTERM ends by SIGKILL after -t; wait prints its code", async () => {
    runDetached("stubborn-d", ["sleep", "3005"]);
    const waiting = cboxAsync(["wait", "--root", fx.store, "stubborn-d"]);
    const t0 = Date.now();
    expect(c(["stop", "-t", "1", "stubborn-d"])).toMatchObject({ code: 0, stdout: "stubborn-d\n" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(await waiting).toMatchObject({ code: 0, stdout: "137\n" });
    expect(inspect("stubborn-d").State).toMatchObject({ Status: "exited", ExitCode: 137, Running: false });
    expect(c(["ps", "-a"]).stdout).toMatch(/Exited \(137\) .* ago +stubborn-d\n/);
    c(["rm", "stubborn-d"]);
  });

  test("start: a stopped container runs again with its upper layer kept, its log appended", async () => {
    const id = runDetached("again", ["sh", "-c", "echo run >> /runs; wc -l < /runs"]);
    expect(c(["wait", "again"]).stdout).toBe("0\n");
    expect(c(["start", "again"])).toMatchObject({ code: 0, stdout: "again\n" });
    expect(c(["wait", id.slice(0, 8)]).stdout).toBe("0\n");
    expect(c(["logs", "again"]).stdout).toBe("1\n2\n");
    c(["rm", "again"]);
  });

  test("ten cbox start at once of one stopped container run it once (the lock per container)", async () => {
    runDetached("contended", ["sleep", "3009"]);
    expect(c(["stop", "-t", "0", "contended"]).code).toBe(0);
    const results = await Promise.all(Array.from({ length: 10 }, () => cboxAsync(["start", "--root", fx.store, "contended"])));
    for (const r of results) expect(r).toMatchObject({ code: 0, stdout: "contended\n", stderr: "" });
    await Bun.sleep(200);
    expect(sleepers("3009")).toHaveLength(1);
    expect(monitors()).toHaveLength(1);
    expect(inspect("contended").State).toMatchObject({ Status: "running", Pid: sleepers("3009")[0] });
    c(["rm", "-f", "contended"]);
  });

  test("kill -9 of the monitor ends the container; ps -a shows it exited and rm removes it", async () => {
    const marker = "sleep 3006";
    runDetached("unmonitored", ["sh", "-c", marker]);
    const { State, Cgroups } = inspect("unmonitored");
    const monitor = Number(procStat(State.Pid)[1]);
    process.kill(monitor, "SIGKILL");
    expect(await eventually(() => processesWith(marker).length === 0)).toBe(true);
    expect(await eventually(() => /Exited .* ago +unmonitored\n/.test(c(["ps", "-a"]).stdout))).toBe(true);
    expect(c(["ps"]).stdout).not.toContain("unmonitored");
    expect(inspect("unmonitored").State).toMatchObject({ Status: "exited", ExitCode: null });
    expect(c(["rm", "unmonitored"]).code).toBe(0);
    expect(Cgroups.length).toBeGreaterThan(0);
    expect(Cgroups.filter((path: string) => existsSync(path))).toEqual([]);
  });

  test("-d --init: the init keeps running the command (its fork must not run cbox's atfork handlers); exec works", async () => {
    runDetached("init-bg", ["sleep", "3007"], ["--init"]);
    await Bun.sleep(200);
    expect(c(["ps"]).stdout).toMatch(/Up .* init-bg\n/);
    expect(c(["exec", "init-bg", "cat", "/proc/1/comm", "/proc/2/comm"]).stdout).toBe("init\nsleep\n");
    expect(c(["stop", "-t", "1", "init-bg"]).code).toBe(0);
    expect(c(["ps", "-a"]).stdout).toMatch(/Exited \(143\) .* init-bg\n/);
    expect(c(["rm", "init-bg"]).code).toBe(0);
  });

  test("--rm -d: the container is removed when it ends", async () => {
    const id = runDetached("short-lived", ["true"], ["--rm"]);
    expect(await eventually(() => !c(["ps", "-a", "-q"]).stdout.includes(id.slice(0, 12)))).toBe(true);
    expect(readdirSync(join(fx.store, "containers"))).not.toContain(id);
  });

  test("20 containers started in parallel all appear, and after rm nothing of them is left", async () => {
    const mountsBefore = hostMounts();
    const names = Array.from({ length: 20 }, (_, i) => `many-${i}`);
    const started = await Promise.all(names.map((name) => cboxAsync(["run", "-d", "--root", fx.store, "--name", name, "-m", "32m", "--rootfs", fx.rootfs, "sleep", "3007"])));
    for (const r of started) expect(r).toMatchObject({ code: 0, stderr: "" });
    const ids = started.map((r) => r.stdout.trim());
    expect(new Set(ids).size).toBe(20);
    const ps = c(["ps", "--format", "json"]).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(ps.map((p) => p.Names).sort()).toEqual([...names].sort());
    expect(ps.every((p) => p.State === "running")).toBe(true);
    expect(sleepers("3007")).toHaveLength(20);
    expect(monitors()).toHaveLength(20);
    const removed = await Promise.all(names.map((name) => cboxAsync(["rm", "-f", "--root", fx.store, name])));
    for (const r of removed) expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(c(["ps", "-a", "-q"]).stdout).toBe("");
    expect(readdirSync(join(fx.store, "containers"))).toEqual([]);
    expect(readdirSync(join(fx.store, "names"))).toEqual([]);
    expect(processesWith("sleep 3007")).toEqual([]);
    expect(monitors()).toEqual([]);
    expect(cboxCgroups()).toEqual([]);
    expect(hostMounts()).toEqual(mountsBefore);
  });

  test("bad input: one line, 125, nothing made", async () => {
    runDetached("idle", ["sleep", "3008"]);
    expect(c(["run", "--name", "fg", "--rootfs", fx.rootfs, "true"]).code).toBe(0);
    const before = readdirSync(join(fx.store, "containers")).sort();
    const cases: [string[], string][] = [
      [["exec", "fg", "true"], "cbox: container fg is not running\n"],
      [["exec", "idle"], "cbox: no command given: cbox exec CONTAINER CMD [ARG...]\n"],
      [["exec", "nope", "true"], "cbox: no such container: nope\n"],
      [["exec", "-w", "tmp", "idle", "true"], "cbox: --workdir must be an absolute path: tmp\n"],
      [["exec", "-u", "nobody-here", "idle", "true"], 'cbox: --user: no user "nobody-here" in the image\'s /etc/passwd\n'],
      [["logs", "--tail", "x", "idle"], 'cbox: --tail "x": expected a number of lines or "all"\n'],
      [["logs", "fg"], "cbox: container fg was not started with -d: its output went to the terminal that ran it, and no log is kept\n"],
      [["logs"], "cbox: cbox logs needs one container\n"],
      [["wait", "nope"], "cbox: no such container: nope\n"],
      [["start", "nope"], "cbox: no such container: nope\n"],
      [["rm", "idle"], "cbox: container idle is running; stop it first or use cbox rm -f\n"],
    ];
    for (const [args, message] of cases) expect({ args, ...c(args) }).toMatchObject({ args, code: 125, stderr: message });
    expect(readdirSync(join(fx.store, "containers")).sort()).toEqual(before);
    // starting a running container does nothing, as with docker
    const pid = inspect("idle").State.Pid;
    expect(c(["start", "idle"])).toMatchObject({ code: 0, stdout: "idle\n" });
    expect(inspect("idle").State.Pid).toBe(pid);
    c(["rm", "-f", "idle", "fg"]);
  });
});
