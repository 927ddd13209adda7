// --init: a minimal PID 1 in the shim that reaps zombies and forwards signals to the command.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cbox, cboxSpawn, isRoot, OutputReader, rootfsFixture, treeListing } from "./helpers.ts";

const fx = rootfsFixture();
const run = (...args: string[]) => ["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, ...args];


// 50 orphans block on a FIFO; PID 1's place then goes to `sleep`, which never reaps. A job started
// after the loop releases them all at once (after the exec) and then counts the zombies.
const orphans =
  "mkfifo /f; for i in $(seq 50); do (cat /f >/dev/null &); done; " +
  "(sleep 0.3; : >/f; sleep 0.3; ps -o stat= | grep -c Z) & exec sleep 1";

describe.skipIf(!isRoot)("--init", () => {
  test("50 orphaned children leave no zombie with --init (and 50 without it)", () => {
    expect(cbox(run("--init", "sh", "-c", orphans))).toEqual({ code: 0, stdout: "0\n", stderr: "" });
    expect(cbox(run("sh", "-c", orphans))).toEqual({ code: 0, stdout: "50\n", stderr: "" });
  });

  test("the init is PID 1, the command PID 2, and the command's exit code is the container's", () => {
    expect(cbox(run("--init", "sh", "-c", "ps -o pid,comm; exit 7"))).toEqual({
      code: 7,
      stdout: "PID   COMMAND\n    1 init\n    2 sh\n    3 ps\n",
      stderr: "",
    });
    expect(cbox(run("--init", "sh", "-c", "kill -KILL $$")).code).toBe(137);
  });

  test("SIGTERM to cbox reaches the command through the init", async () => {
    // Without an init, `sleep` as PID 1 would ignore SIGTERM (no handler); behind one it dies of it.
    const proc = cboxSpawn(run("--init", "sh", "-c", "echo ready; exec sleep 100"));
    await new OutputReader(proc.stdout).until("ready");
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(143);
  });

  test("exec failures behind the init are still one line with docker's codes, and nothing is left", () => {
    expect(cbox(run("--init", "no-such-command"))).toEqual({
      code: 127,
      stdout: "",
      stderr: 'cbox: exec "no-such-command": executable file not found in $PATH\n',
    });
    expect(treeListing(join(fx.store, "containers"))).toEqual([]);
  });
});
