// -t and -i: a container with its own terminal, driven from a real terminal the test opens.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cbox, cboxBin, containerPid, isRoot, rootfsFixture, tempDir, removeDir } from "./helpers.ts";
import { ICANON, TerminalSession } from "./terminal.ts";

const fx = rootfsFixture();
const run = (...rest: string[]) => ["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, ...rest];

/** A session on a fresh folder for the settings files; removed after fn. */
async function withSession(args: string[], fn: (s: TerminalSession) => Promise<void>, size?: { rows: number; cols: number }) {
  const dir = tempDir();
  try {
    await fn(new TerminalSession(args, dir, size));
  } finally {
    removeDir(dir);
  }
}

/**
 * Runs cmd at the prompt and returns once it runs: the shell printed a marker after it put its
 * terminal back in cooked mode, so a control key typed now is a signal, not a queued byte.
 */
async function startedInForeground(s: TerminalSession, cmd: string): Promise<void> {
  s.type(`echo started-$((1 + 1)); ${cmd}\r`);
  await s.until("started-2\r\n");
  await Bun.sleep(200); // from the shell's fork to the command's exec
}

describe.skipIf(!isRoot)("cbox run -it on a terminal", () => {
  test("a shell with its own terminal: prompt, tty, size and resize, Ctrl-C, exit code, settings restored", async () => {
    await withSession(run("-it", "/bin/sh"), async (s) => {
      await s.until("/ # ");
      // raw while the container runs: the container's own pty does the line editing
      expect(s.term.localFlags & ICANON).toBe(0);
      s.type("tty; stty size\r");
      await s.until("/dev/pts/0");
      await s.until("30 100");
      s.term.resize(120, 40); // the kernel sends SIGWINCH to cbox, the foreground process
      await Bun.sleep(100);
      s.type("stty size\r");
      await s.until("40 120");
      await startedInForeground(s, "sleep 100");
      s.type("\x03");
      s.type("echo sleep-ended-$?\r");
      await s.until("sleep-ended-130");
      s.type("echo still-$((40 + 2))\r");
      await s.until("still-42");
      s.type("exit 3\r");
      expect(await s.exitCode()).toBe(3);
      const { before, after } = s.settings();
      expect(before).toContain(":"); // stty -g output, not an empty file
      expect(after).toBe(before);
    });
  });

  test("job control: background jobs, Ctrl-Z stops the foreground job, fg resumes it, Ctrl-\\ quits it", async () => {
    await withSession(run("-it", "/bin/sh"), async (s) => {
      await s.until("/ # ");
      s.type("sleep 100 &\r");
      s.type("jobs\r");
      await s.until("Running");
      await startedInForeground(s, "sleep 101");
      s.type("\x1a");
      await s.until("Stopped");
      s.type("jobs -l\r");
      await s.until("sleep 101");
      s.type("fg %2\r");
      await s.until("sleep 101\r\n"); // fg names the job it resumes
      await Bun.sleep(200);
      s.type("\x1c");
      s.type("echo after-quit-$?\r");
      await s.until("after-quit-131");
      s.type("kill %1; exit\r");
      expect(await s.exitCode()).toBe(0);
      expect(s.settings().after).toBe(s.settings().before);
    });
  });

  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    test(`${signal} to cbox mid-session: the container is stopped and the terminal restored`, async () => {
      await withSession(run("-it", "--stop-timeout", "1", "/bin/sh"), async (s) => {
        await s.until("/ # ");
        expect(s.term.localFlags & ICANON).toBe(0);
        process.kill(s.cboxPid(), signal);
        // an interactive shell as PID 1 ignores both, so the stop timeout ends it
        expect(await s.exitCode()).toBe(137);
        expect(s.settings().after).toBe(s.settings().before);
      });
    });
  }

  test("the command killed from outside: 137 and the terminal restored", async () => {
    await withSession(run("-it", "/bin/sh"), async (s) => {
      await s.until("/ # ");
      process.kill(containerPid(s.cboxPid()), "SIGKILL");
      expect(await s.exitCode()).toBe(137);
      expect(s.settings().after).toBe(s.settings().before);
    });
  });

  test("a start that fails leaves the terminal as it was, with one line", async () => {
    await withSession(run("-it", "/no/such/command"), async (s) => {
      expect(await s.exitCode()).toBe(127);
      expect(s.screen).toContain('cbox: exec "/no/such/command": no such file or directory');
      expect(s.settings().after).toBe(s.settings().before);
    });
  });

  test("-i without -t on a terminal: stdin is a pipe that closes at Ctrl-D; the terminal stays cooked", async () => {
    await withSession(run("-i", "sh", "-c", "stat -L -c %F /dev/stdin; cat; echo cat-done"), async (s) => {
      await s.until("fifo");
      expect(s.term.localFlags & ICANON).toBe(ICANON);
      s.type("typed line\r");
      await s.until("typed line"); // the host terminal's echo, then cat's copy
      await s.until("typed line");
      s.type("\x04");
      await s.until("cat-done");
      expect(await s.exitCode()).toBe(0);
    });
  });
});

describe.skipIf(!isRoot)("-t and -i without a terminal", () => {
  test("-t with pipes: the container still gets a pty of its own, 24x80, output copied out", () => {
    const res = cbox(run("-t", "sh", "-c", "tty; stty size; exit 4"));
    expect(res.code).toBe(4);
    expect(res.stdout).toBe("/dev/pts/0\r\n24 80\r\n");
  });

  test("-it with a pipe on stdin: input goes through the pty, EOF ends the shell", () => {
    const res = cbox(run("-it", "sh"), { stdin: "echo in-$((6 * 7))\n" });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("in-42\r\n");
  });

  test("-i with a file on stdin: the container reads a pipe to its end", () => {
    const dir = tempDir();
    try {
      const file = join(dir, "input");
      writeFileSync(file, "line 1\nline 2\n");
      const args = run("-i", "sh", "-c", "stat -L -c %F /dev/stdin; wc -l");
      const proc = Bun.spawnSync([cboxBin, ...args], { stdin: Bun.file(file), stdout: "pipe" });
      expect(proc.exitCode).toBe(0);
      expect(proc.stdout.toString().split(/\s+/).filter(Boolean)).toEqual(["fifo", "2"]);
    } finally {
      removeDir(dir);
    }
  });

  test("without -i, stdin is /dev/null even when cbox has input", () => {
    expect(cbox(run("sh", "-c", "cat; readlink /proc/self/fd/0"), { stdin: "ignored\n" }).stdout).toBe("/dev/null\n");
  });

  test("--stop-timeout takes whole seconds only", () => {
    expect(cbox(run("--stop-timeout", "soon", "true"))).toEqual({
      code: 125,
      stdout: "",
      stderr: 'cbox: --stop-timeout "soon": expected a number of seconds\n',
    });
  });
});
