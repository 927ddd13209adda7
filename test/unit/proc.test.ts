import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childrenOf, isSameProcess, processStartTime } from "../../src/linux/proc.ts";

const dir = mkdtempSync(join(tmpdir(), "cbox-proc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Fields 3.. of /proc/PID/stat the plain way, to check the walked one against. */
function fields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).trim().split(" ");
}

async function until<T>(f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = f();
    if (v !== undefined) return v;
    await Bun.sleep(10);
  }
  throw new Error("timed out");
}

describe("/proc/PID/stat", () => {
  test("the start time tells this process from another with its pid; a gone pid has none", () => {
    const own = processStartTime(process.pid)!;
    expect(own).toBe(fields(process.pid)[19]!);
    expect(isSameProcess(process.pid, own)).toBe(true);
    expect(isSameProcess(process.pid, String(Number(own) + 1))).toBe(false);
    expect(processStartTime(2147483646)).toBeUndefined();
    expect(isSameProcess(2147483646, own)).toBe(false);
  });

  test("a command name with spaces and parentheses does not shift the fields; childrenOf finds it", async () => {
    const odd = join(dir, "a) b (c");
    symlinkSync("/bin/sleep", odd);
    const child = Bun.spawn([odd, "30"]);
    try {
      await until(() => (readFileSync(`/proc/${child.pid}/stat`, "utf8").includes("(a) b (c)") ? true : undefined));
      expect(processStartTime(child.pid)).toBe(fields(child.pid)[19]!);
      expect(isSameProcess(child.pid, processStartTime(child.pid)!)).toBe(true);
      expect(childrenOf(process.pid)).toContain(child.pid);
    } finally {
      child.kill(9);
      await child.exited;
    }
  });

  test("a zombie is not the process that ran: it has ended", async () => {
    // sh's background child exits; sh then becomes a sleep that never reaps it
    const parent = Bun.spawn(["sh", "-c", "true & exec sleep 30"]);
    try {
      const zombie = await until(() => childrenOf(parent.pid).find((pid) => fields(pid)[0] === "Z"));
      const startTime = processStartTime(zombie)!;
      expect(startTime).toBe(fields(zombie)[19]!);
      expect(isSameProcess(zombie, startTime)).toBe(false);
    } finally {
      parent.kill(9);
      await parent.exited;
    }
  });
});
