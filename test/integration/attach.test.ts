// create, start, restart and attach: containers made to run later, started attached, run with a
// terminal their monitor holds, attached to from a real terminal, detached from and restarted.
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { cbox, cboxSpawn, isRoot, OutputReader, processesWith, removeDir, rootfsFixture, rootlessUserFixture, tempDir } from "./helpers.ts";
import { ICANON, TerminalSession } from "./terminal.ts";

const fx = rootfsFixture();
const user = rootlessUserFixture("cbox-attach", 2_000_000);
const c = (args: string[], stdin?: string) => cbox([args[0]!, "--root", fx.store, ...args.slice(1)], { stdin });
/** The flags every container here gets: no network, the test rootfs. */
const from = () => ["--network", "none", "--rootfs", fx.rootfs];

function inspect(ref: string) {
  return JSON.parse(c(["inspect", ref]).stdout)[0];
}

async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(20)) if (check()) return true;
  return check();
}

/** A terminal session running `cbox ARGS`; the session ends (killed if need be) and its folder goes after fn. */
async function withSession(args: string[], fn: (s: TerminalSession) => Promise<void>) {
  const dir = tempDir();
  const s = new TerminalSession(args, dir);
  try {
    await fn(s);
  } finally {
    if (s.proc.exitCode === null) s.proc.kill("SIGKILL");
    await s.proc.exited;
    removeDir(dir);
  }
}

describe.skipIf(!isRoot)("create, start, restart, attach", () => {
  // Whatever a test did or failed to do: no container of it outlives it.
  afterEach(() => {
    const left = c(["ps", "-a", "-q"]).stdout.split("\n").filter(Boolean);
    if (left.length) c(["rm", "-f", ...left]);
  });

  test("create makes a container that runs nothing; start runs it detached, start -a attached with its exit code", () => {
    const made = c(["create", "--name", "later", ...from(), "sh", "-c", "echo out-$((1 + 1)); echo err-$((1 + 2)) >&2; exit 3"]);
    expect(made).toMatchObject({ code: 0, stderr: "" });
    expect(made.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(c(["ps"]).stdout).not.toContain("later");
    expect(c(["ps", "-a"]).stdout).toMatch(/ Created +later\n/);
    expect(inspect("later").Id).toBe(made.stdout.trim());
    expect(inspect("later").State).toMatchObject({ Status: "created", Running: false, Pid: 0, StartedAt: null, ExitCode: null });
    expect(processesWith("out-$((1 + 1))")).toEqual([]);
    expect(c(["logs", "later"])).toMatchObject({ code: 0, stdout: "", stderr: "" });

    expect(c(["start", "later"])).toMatchObject({ code: 0, stdout: "later\n", stderr: "" });
    expect(c(["wait", "later"]).stdout).toBe("3\n");
    expect(c(["logs", "later"])).toMatchObject({ code: 0, stdout: "out-2\n", stderr: "err-3\n" });

    expect(c(["start", "-a", "later"])).toEqual({ code: 3, stdout: "out-2\n", stderr: "err-3\n" });
    expect(inspect("later").State).toMatchObject({ Status: "exited", ExitCode: 3 });
    expect(c(["logs", "later"]).stdout).toBe("out-2\nout-2\n"); // start -a added its run to the log

    // a created container goes without -f, as with docker
    c(["create", "--name", "unused", ...from(), "true"]);
    expect(c(["rm", "unused"])).toEqual({ code: 0, stdout: "unused\n", stderr: "" });
    expect(c(["ps", "-a"]).stdout).not.toContain("unused");
  });

  test("a first start that fails says why in one line (127: not found) and leaves the container created", () => {
    c(["create", "--name", "broken", ...from(), "no-such-command"]);
    const missing = 'cbox: exec "no-such-command": executable file not found in $PATH\n';
    expect(c(["start", "-a", "broken"])).toEqual({ code: 127, stdout: "", stderr: missing });
    expect(c(["start", "broken"])).toEqual({ code: 127, stdout: "", stderr: missing });
    expect(c(["ps", "-a"]).stdout).toMatch(/ Created +broken\n/);
    expect(inspect("broken").State).toMatchObject({ Status: "created", Pid: 0 });
    expect(readdirSync(join(fx.store, "live"))).toEqual([]);
  });

  test("create -i, start -ai: the piped input goes in, and its end ends the container's stdin", () => {
    c(["create", "-i", "--name", "reader", ...from(), "sh", "-c", "cat; echo input-ended"]);
    expect(c(["start", "-ai", "reader"], "line-1\nline-2\n")).toEqual({ code: 0, stdout: "line-1\nline-2\ninput-ended\n", stderr: "" });
    expect(c(["logs", "reader"]).stdout).toBe("line-1\nline-2\ninput-ended\n");
  });

  test("create --rm: kept until it has run, removed once it exits (start -a returns after that)", () => {
    c(["create", "--rm", "--name", "once", ...from(), "sh", "-c", "echo ran-once"]);
    expect(c(["ps", "-a"]).stdout).toMatch(/ Created +once\n/);
    expect(c(["start", "-a", "once"])).toEqual({ code: 0, stdout: "ran-once\n", stderr: "" });
    expect(c(["ps", "-a", "-q"]).stdout).toBe("");
    expect(readdirSync(join(fx.store, "containers"))).toEqual([]);
  });

  test("create -t, start: its monitor holds the terminal, and logs shows what the terminal printed", async () => {
    c(["create", "-t", "--name", "tty", ...from(), "sh", "-c", "tty; stty size; echo done"]);
    expect(c(["start", "tty"])).toMatchObject({ code: 0, stdout: "tty\n", stderr: "" });
    expect(c(["wait", "tty"]).stdout).toBe("0\n");
    // a terminal ends lines with \r\n; with no terminal to copy a size from, 24x80
    expect(c(["logs", "tty"])).toEqual({ code: 0, stdout: "/dev/pts/0\r\n24 80\r\ndone\r\n", stderr: "" });
  });

  test("run -dit, then attach from a terminal: raw mode, its size, resize, Ctrl-P Ctrl-Q leaves it running; attach again and exit", async () => {
    expect(c(["run", "-dit", "--name", "shell", ...from(), "/bin/sh"]).code).toBe(0);
    await withSession(["attach", "--root", fx.store, "shell"], async (s) => {
      s.type("echo hi-$((40 + 2))\r");
      await s.until("hi-42");
      expect(s.term.localFlags & ICANON).toBe(0);
      s.type("stty size\r");
      await s.until("30 100"); // attach gave the container's terminal the session's size
      s.term.resize(120, 40);
      await Bun.sleep(100);
      s.type("stty size\r");
      await s.until("40 120");
      s.type("\x10\x11");
      expect(await s.exitCode()).toBe(0);
      expect(s.settings().after).toBe(s.settings().before);
    });
    expect(inspect("shell").State.Status).toBe("running");
    expect(c(["logs", "shell"]).stdout).toContain("hi-42\r\n");
    await withSession(["attach", "--root", fx.store, "shell"], async (s) => {
      s.type("echo again-$((1 + 1))\r");
      await s.until("again-2");
      s.type("exit 5\r");
      expect(await s.exitCode()).toBe(5);
      expect(s.settings().after).toBe(s.settings().before);
    });
    expect(inspect("shell").State).toMatchObject({ Status: "exited", ExitCode: 5 });
  });

  test("create -it, start -ai from a terminal: the shell's prompt, its own terminal, its exit code", async () => {
    c(["create", "-it", "--name", "later-shell", ...from(), "/bin/sh"]);
    await withSession(["start", "-ai", "--root", fx.store, "later-shell"], async (s) => {
      await s.until("/ # ");
      s.type("tty\r");
      await s.until("/dev/pts/0");
      s.type("exit 4\r");
      expect(await s.exitCode()).toBe(4);
      expect(s.settings().after).toBe(s.settings().before);
    });
    expect(inspect("later-shell").State).toMatchObject({ Status: "exited", ExitCode: 4 });
  });

  test("detach keys: a sequence that breaks goes in whole, the whole one detaches, what follows it stays out", async () => {
    c(["run", "-di", "--name", "echoer", ...from(), "cat"]);
    const r = c(["attach", "--detach-keys", "ctrl-x,q", "echoer"], "p\x18r\n\x18qnever-sent\n");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(await eventually(() => c(["logs", "echoer"]).stdout === "p\x18r\n")).toBe(true);
    await Bun.sleep(200);
    expect(c(["logs", "echoer"]).stdout).toBe("p\x18r\n");
    expect(inspect("echoer").State.Status).toBe("running");
  });

  test("-a STDOUT copies stdout only, the rest is in the log; -a STDERR; -a STDIN with -i", () => {
    const r = c(["run", "-a", "STDOUT", "--name", "half", ...from(), "sh", "-c", "echo to-out; echo to-err >&2; exit 2"]);
    expect(r).toEqual({ code: 2, stdout: "to-out\n", stderr: "" });
    expect(c(["logs", "half"])).toEqual({ code: 0, stdout: "to-out\n", stderr: "to-err\n" });
    expect(c(["run", "--rm", "-a", "stderr", ...from(), "sh", "-c", "echo to-out; echo to-err >&2"])).toEqual({ code: 0, stdout: "", stderr: "to-err\n" });
    expect(c(["run", "--rm", "-i", "-a", "STDIN", "-a", "STDOUT", ...from(), "sh", "-c", "cat; echo cat-ended >&2"], "piped\n")).toEqual({ code: 0, stdout: "piped\n", stderr: "" });
    expect(c(["ps", "-a", "--format", "json"]).stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l).Names)).toEqual(["half"]);
  });

  test("--sig-proxy=false: Ctrl-C ends cbox run and the container runs on; attach passes signals on by default", async () => {
    const script = "trap 'echo got-int; exit 9' INT; echo ready; while true; do echo tick; sleep 0.2; done";
    const run = cboxSpawn(["run", "--root", fx.store, "--sig-proxy=false", "--name", "unproxied", ...from(), "sh", "-c", script]);
    await new OutputReader(run.stdout).until("ready");
    run.kill("SIGINT");
    expect(await run.exited).toBe(130);
    expect(inspect("unproxied").State.Status).toBe("running");
    expect(c(["logs", "unproxied"]).stdout).not.toContain("got-int");

    const attached = cboxSpawn(["attach", "--root", fx.store, "unproxied"]);
    const out = new OutputReader(attached.stdout);
    await out.until("tick");
    attached.kill("SIGINT");
    expect(await attached.exited).toBe(9);
    expect(await out.all()).toContain("got-int\n");
    expect(inspect("unproxied").State).toMatchObject({ Status: "exited", ExitCode: 9 });
  });

  test("restart: a running container gets a new PID 1, an exited or created one starts, a --rm one is kept", async () => {
    c(["run", "-d", "--name", "again", ...from(), "sh", "-c", "echo started; sleep 100"]);
    const before = inspect("again").State;
    // sh as PID 1 ignores SIGTERM: -t 1 ends it with SIGKILL after a second
    expect(c(["restart", "-t", "1", "again"])).toEqual({ code: 0, stdout: "again\n", stderr: "" });
    const after = inspect("again").State;
    expect(after.Status).toBe("running");
    expect(after.Pid).not.toBe(before.Pid);
    expect(Date.parse(after.StartedAt)).toBeGreaterThan(Date.parse(before.StartedAt));
    expect(await eventually(() => c(["logs", "again"]).stdout === "started\nstarted\n")).toBe(true);

    expect(c(["run", "--name", "finished", ...from(), "sh", "-c", "exit 6"]).code).toBe(6);
    expect(c(["restart", "finished"])).toMatchObject({ code: 0, stdout: "finished\n" });
    expect(c(["wait", "finished"]).stdout).toBe("6\n");
    expect(Date.parse(inspect("finished").State.StartedAt)).toBeGreaterThan(Date.parse(inspect("finished").Created));

    c(["create", "--name", "fresh", ...from(), "sleep", "100"]);
    expect(c(["restart", "fresh"])).toMatchObject({ code: 0, stdout: "fresh\n" });
    expect(inspect("fresh").State.Status).toBe("running");

    c(["run", "-d", "--rm", "--name", "ephemeral", ...from(), "sleep", "100"]);
    const pid = inspect("ephemeral").State.Pid;
    expect(c(["restart", "-t", "0", "ephemeral"])).toMatchObject({ code: 0, stdout: "ephemeral\n" });
    expect(inspect("ephemeral").State).toMatchObject({ Status: "running", Running: true });
    expect(inspect("ephemeral").State.Pid).not.toBe(pid);
    // still --rm: its next end removes it
    c(["kill", "ephemeral"]);
    expect(await eventually(() => !c(["ps", "-a"]).stdout.includes("ephemeral"))).toBe(true);
  });

  test("bad input: one line, 125, nothing made or started", async () => {
    expect(c(["run", "--name", "ended", ...from(), "true"]).code).toBe(0);
    c(["create", "--name", "waiting", ...from(), "true"]);
    const fg = cboxSpawn(["run", "--root", fx.store, "--name", "fg", ...from(), "sh", "-c", "echo ready; sleep 100"]);
    await new OutputReader(fg.stdout).until("ready");
    const before = readdirSync(join(fx.store, "containers")).sort();
    const names = readdirSync(join(fx.store, "names")).sort();
    const foreground = (ref: string) =>
      `cbox: container ${ref} runs in the foreground of the cbox run that started it, which holds its stdio; only containers started with -d, cbox create or cbox start can be attached\n`;
    const badKeys = 'cbox: --detach-keys "ctrl-1": "ctrl-1" is not a key; give characters or ctrl-X (X: a-z, @, [, \\, ], ^ or _), comma-separated\n';
    const cases: [string[], string][] = [
      [["attach", "ended"], "cbox: container ended is not running\n"],
      [["attach", "waiting"], "cbox: container waiting is not running\n"],
      [["attach", "nope"], "cbox: no such container: nope\n"],
      [["attach"], "cbox: cbox attach needs one container\n"],
      [["attach", "fg"], foreground("fg")],
      [["attach", "--detach-keys", "ctrl-1", "fg"], badKeys],
      [["start", "-a", "ended", "waiting"], "cbox: cbox start -a (or -i) takes one container: attach to one at a time\n"],
      [["start", "-a", "nope"], "cbox: no such container: nope\n"],
      [["start", "-a", "fg"], foreground("fg")],
      [["start", "--detach-keys", "ctrl-1", "-a", "waiting"], badKeys],
      [["restart", "nope"], "cbox: no such container: nope\n"],
      [["restart", "ended", "nope"], "cbox: no such container: nope\n"],
      [["restart"], "cbox: cbox restart needs at least one container\n"],
      [["restart", "-t", "soon", "ended"], 'cbox: --time "soon": expected a number of seconds\n'],
      [["create", "-w", "tmp", ...from(), "true"], "cbox: --workdir must be an absolute path: tmp\n"],
      [["create", "--bogus", ...from(), "true"], "cbox: unknown flag: --bogus\n"],
      [["create", "-d", ...from(), "true"], "cbox: unknown flag: -d\n"],
      [["create", "--memory", "1m", ...from(), "true"], "cbox: --memory 1m: the minimum is 6m\n"],
      [["run", "-a", "STDLOG", ...from(), "true"], 'cbox: --attach "STDLOG": expected STDIN, STDOUT or STDERR\n'],
      [["run", "-a", "STDIN", ...from(), "cat"], "cbox: --attach STDIN needs -i: without it the container's stdin is /dev/null\n"],
      [["run", "-d", "-a", "STDOUT", ...from(), "true"], "cbox: -a and -d conflict: a detached container's output goes to its log (cbox logs), or attach with cbox attach\n"],
      [["run", "--sig-proxy=maybe", ...from(), "true"], 'cbox: invalid boolean value for --sig-proxy=maybe: "maybe"\n'],
      [["kill", "waiting"], "cbox: container waiting is not running\n"],
      [["exec", "waiting", "true"], "cbox: container waiting is not running\n"],
    ];
    for (const [args, message] of cases) expect({ args, ...c(args) }).toEqual({ args, code: 125, stdout: "", stderr: message });
    expect(readdirSync(join(fx.store, "containers")).sort()).toEqual(before);
    expect(readdirSync(join(fx.store, "names")).sort()).toEqual(names);
    expect(inspect("ended").State.Status).toBe("exited");
    expect(inspect("waiting").State.Status).toBe("created");
    c(["kill", "fg"]);
    expect(await fg.exited).toBe(137);
  });

  test("nothing of these containers outlives them: no monitor, no attach client, no container process", () => {
    expect(c(["ps", "-a", "-q"]).stdout).toBe("");
    expect(processesWith(fx.store)).toEqual([]);
  });
});

describe.skipIf(!isRoot)("as an ordinary user", () => {
  const u = (args: string[], stdin?: string) => cbox([args[0]!, "--root", user.store, ...args.slice(1)], { as: user.as, stdin });
  const rootfs = () => ["--rootfs", user.rootfs];

  test("create, start -ai, run -dit and attach, restart of a --rm container: the monitor's socket is the user's", async () => {
    try {
      u(["create", "-i", "--name", "reader", ...rootfs(), "sh", "-c", "cat; id -u"]);
      expect(u(["start", "-ai", "reader"], "from-user\n")).toEqual({ code: 0, stdout: "from-user\n0\n", stderr: "" });
      expect(u(["run", "-dit", "--name", "shell", ...rootfs(), "/bin/sh"]).code).toBe(0);
      const attached = u(["attach", "shell"], "echo hi-$((40 + 2)); exit 7\n");
      expect(attached.code).toBe(7);
      expect(attached.stdout).toContain("hi-42\r\n");
      u(["run", "-d", "--rm", "--name", "kept", ...rootfs(), "sleep", "100"]);
      expect(u(["restart", "-t", "0", "kept"])).toEqual({ code: 0, stdout: "kept\n", stderr: "" });
      expect(JSON.parse(u(["inspect", "kept"]).stdout)[0].State.Status).toBe("running");
    } finally {
      u(["rm", "-f", "reader", "shell", "kept"]);
    }
    expect(u(["ps", "-a", "-q"]).stdout).toBe("");
    expect(processesWith(user.store)).toEqual([]);
  });
});
