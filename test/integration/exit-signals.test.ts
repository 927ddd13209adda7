// Exit codes as docker gives them, and signals sent to cbox reaching the container's PID 1.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cbox, cboxSpawn, containerPid, isRoot, OutputReader, rootfsFixture, treeListing } from "./helpers.ts";

const fx = rootfsFixture();
const runArgs = (...cmd: string[]) => ["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, ...cmd];


describe.skipIf(!isRoot)("exit codes", () => {
  test("the command's own code", () => {
    expect(cbox(runArgs("sh", "-c", "exit 3")).code).toBe(3);
    expect(cbox(runArgs("true")).code).toBe(0);
    expect(cbox(runArgs("false")).code).toBe(1);
  });

  test("127 when the command is not found, with one line saying so", () => {
    const byName = cbox(runArgs("no-such-command"));
    expect(byName).toEqual({ code: 127, stdout: "", stderr: 'cbox: exec "no-such-command": executable file not found in $PATH\n' });
    const byPath = cbox(runArgs("/no/such/file"));
    expect(byPath).toEqual({ code: 127, stdout: "", stderr: 'cbox: exec "/no/such/file": no such file or directory\n' });
  });

  test("126 when the command cannot be executed", () => {
    expect(cbox(runArgs("/etc/passwd"))).toEqual({ code: 126, stdout: "", stderr: 'cbox: exec "/etc/passwd": permission denied\n' });
    expect(cbox(runArgs("/etc"))).toEqual({ code: 126, stdout: "", stderr: 'cbox: exec "/etc": permission denied\n' });
  });

  test("125 for cbox's own errors, one line each", () => {
    const cases: [string[], string][] = [
      [["run", "--root", fx.store, "--rootfs", join(fx.work, "missing"), "true"], `cbox: --rootfs ${join(fx.work, "missing")}: no such directory\n`],
      [["run", "--root", fx.store], "cbox: no image given: cbox run [FLAGS] IMAGE [CMD...], or --rootfs DIR CMD...\n"],
      [["run", "--root", fx.store, "127.0.0.1:1/nothing", "true"], "cbox: cannot reach the registry 127.0.0.1:1: connection refused\n"],
      [["run", "--root", fx.store, "--rootfs", fx.rootfs], "cbox: no command given: cbox run --rootfs DIR CMD [ARG...]\n"],
      [["run", "--bogus", "x"], "cbox: unknown flag: --bogus\n"],
      [["run", "--root", fx.store, "--rootfs", fx.rootfs, "-u", "nosuchuser", "true"], 'cbox: --user: no user "nosuchuser" in the image\'s /etc/passwd\n'],
      [["run", "--root", fx.store, "--rootfs", fx.rootfs, "-w", "relative", "true"], "cbox: --workdir must be an absolute path: relative\n"],
      [["run", "--root", fx.store, "--rootfs", fx.rootfs, "--name", "bad/name", "true"], 'cbox: --name "bad/name": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n'],
      [["run", "--root", fx.store, "--rootfs", fx.rootfs, "--env-file", join(fx.work, "nope"), "true"], `cbox: --env-file ${join(fx.work, "nope")}: cannot read it\n`],
      [["frobnicate"], 'cbox: unknown command "frobnicate"; see cbox --help\n'],
      [["rm", "--root", fx.store, "nosuch"], "cbox: no such container: nosuch\n"],
    ];
    for (const [args, stderr] of cases) expect(cbox(args)).toEqual({ code: 125, stdout: "", stderr });
    // live/ may stand (made with the first container), but nothing may be left in it
    expect(treeListing(fx.store).filter((l) => !/^\/(containers|names|network)[ /]/.test(l) && !/^\/live d /.test(l))).toEqual([]);
  });

  test("128+N when the container's PID 1 dies of signal N", async () => {
    const proc = cboxSpawn(runArgs("sh", "-c", "echo ready; exec sleep 100"));
    await new OutputReader(proc.stdout).until("ready");
    process.kill(containerPid(proc.pid), "SIGKILL");
    expect(await proc.exited).toBe(137);
  });
});

describe.skipIf(!isRoot)("signals sent to cbox reach PID 1", () => {
  const cases: [NodeJS.Signals, number][] = [
    ["SIGTERM", 43],
    ["SIGINT", 44],
    ["SIGHUP", 45],
    ["SIGQUIT", 46],
    ["SIGUSR1", 47],
    ["SIGUSR2", 48],
  ];
  for (const [signal, code] of cases) {
    test(signal, async () => {
      const name = signal.slice(3);
      const script = `trap 'echo got-${name}; exit ${code}' ${name}; echo ready; while :; do sleep 0.05; done`;
      const proc = cboxSpawn(runArgs("sh", "-c", script));
      const out = new OutputReader(proc.stdout);
      await out.until("ready");
      proc.kill(signal);
      expect(await proc.exited).toBe(code);
      expect(await out.all()).toBe(`ready\ngot-${name}\n`);
    });
  }
});
