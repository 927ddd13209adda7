// Limits that hold: containers made to hit them, read back from the kernel's own counters.
// The same tests run on cgroup v1 (this project's machines: v1 plus an empty cgroup2) and on
// pure v2; the layout this host lacks is reported as skipped, with why.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseLayout } from "../../src/linux/cgroups/detect.ts";
import { V2Cgroup } from "../../src/linux/cgroups/v2.ts";
import { cbox, cboxCgroups, cboxSpawn, containerPid, isRoot, OutputReader, processesWith, rootfsFixture, treeListing } from "./helpers.ts";

const fx = rootfsFixture();
const layout = parseLayout(readFileSync("/proc/self/mountinfo", "utf8"));
const unifiedControllers = layout.unified ? readFileSync(join(layout.unified, "cgroup.controllers"), "utf8").trim().split(/\s+/).filter(Boolean) : [];
const NEEDED = ["memory", "cpu", "pids"];

/** Where a control file of a container's cgroup is, per layout; v1 files by controller. */
interface Files {
  dir(id: string, controller: string): string;
  /** CPU time used, in ns. */
  cpuUsage(id: string): number;
  memoryLimit: string;
}

const v1: Files = {
  dir: (id, c) => join(layout.hierarchies.find((h) => h.controllers.includes(c))!.mount, "cbox", id),
  cpuUsage: (id) => Number(readFileSync(join(v1.dir(id, "cpuacct"), "cpuacct.usage"), "utf8")),
  memoryLimit: "memory.limit_in_bytes",
};
const v2: Files = {
  dir: (id) => join(layout.unified!, "cbox", id),
  cpuUsage: (id) => 1000 * Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(v2.dir(id, "cpu"), "cpu.stat"), "utf8"))![1]),
  memoryLimit: "memory.max",
};

const versions: { name: string; files: Files; why?: string }[] = [
  { name: "cgroup v1", files: v1, why: layout.version === 1 ? undefined : `this host has no cgroup v1 controllers (cgroup v${layout.version})` },
  {
    name: "cgroup v2",
    files: v2,
    why:
      layout.version === 2 && NEEDED.every((c) => unifiedControllers.includes(c))
        ? undefined
        : layout.version === 2
          ? `this host's cgroup2 lacks some of ${NEEDED.join(", ")} (it offers: ${unifiedControllers.join(" ") || "none"})`
          : `this host is not pure cgroup v2: memory, cpu and pids are bound to v1 hierarchies${layout.unified ? ` (its cgroup2 at ${layout.unified} offers: ${unifiedControllers.join(" ") || "none"})` : ""}`,
  },
];

function run(args: string[]) {
  return cbox(["run", "--rm", "--root", fx.store, ...args.slice(0, -1), "--rootfs", fx.rootfs, ...args.at(-1)!.split("\u0000")]);
}

/** The id of a named container, once cbox has recorded it. */
async function idOf(name: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    try {
      return readFileSync(join(fx.store, "names", name), "utf8").trim();
    } catch {
      await Bun.sleep(10);
    }
  }
  throw new Error(`container ${name} never appeared`);
}

async function untilExists(path: string): Promise<void> {
  for (let i = 0; i < 500 && !existsSync(path); i++) await Bun.sleep(10);
  if (!existsSync(path)) throw new Error(`${path} never appeared`);
}

/** Kills the container's PID 1, so that cbox ends as usual and cleans up. */
async function endContainer(proc: ReturnType<typeof cboxSpawn>): Promise<void> {
  process.kill(containerPid(proc.pid), "SIGKILL");
  expect(await proc.exited).toBe(137);
}

const sh = (script: string) => ["sh", "-c", script].join("\u0000");

for (const { name, files, why } of versions) {
  if (why || !isRoot) {
    const reason = why ?? "the limits need root on this host";
    test.skip(`${name}: skipped: ${reason}`, () => {});
    console.log(`${name} limit tests skipped: ${reason}`);
    continue;
  }

  describe(name, () => {
    test("--memory 32m: allocating 64 MiB is killed, reported, 137; unlimited it succeeds; no cgroup left", () => {
      const alloc = "dd if=/dev/zero of=/dev/null bs=64M count=1";
      const limited = run(["--memory", "32m", sh(alloc)]);
      expect(limited.stderr).toBe("cbox: container was killed: out of memory (limit 32 MiB)\n");
      expect(limited.code).toBe(137);
      expect(run([sh(alloc)]).code).toBe(0);
      expect(cboxCgroups()).toEqual([]);
    });

    test("--memory: a process other than PID 1 killed for memory is reported too; PID 1's code stands", () => {
      const r = run(["--memory", "32m", sh("dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?")]);
      expect(r.stdout).toBe("dd=137\n");
      expect(r.stderr).toEndWith("\ncbox: a process in the container was killed: out of memory (limit 32 MiB)\n"); // after the shell's "Killed"
      expect(r.code).toBe(0);
    });

    test("--memory and --memory-swap are written into the memory cgroup that holds PID 1", async () => {
      const proc = cboxSpawn(["run", "--rm", "--root", fx.store, "--name", "memfiles", "-m", "64m", "--memory-swap", "100m", "--rootfs", fx.rootfs, "sh", "-c", "echo ready; sleep 5"]);
      await new OutputReader(proc.stdout).until("ready");
      const dir = files.dir(await idOf("memfiles"), "memory");
      expect(readFileSync(join(dir, files.memoryLimit), "utf8").trim()).toBe(String(64 << 20));
      const swapFile = files === v1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max";
      if (existsSync(join(dir, swapFile))) expect(readFileSync(join(dir, swapFile), "utf8").trim()).toBe(String(files === v1 ? 100 << 20 : 36 << 20));
      expect(readFileSync(join(dir, "cgroup.procs"), "utf8")).toContain(String(containerPid(proc.pid)));
      await endContainer(proc);
    });

    test("--memory-reservation, --cpu-period and --cpu-quota are written into the container's cgroup", async () => {
      const proc = cboxSpawn(["run", "--rm", "--root", fx.store, "--name", "softlimits", "--memory-reservation", "32m", "--cpu-period", "50000", "--cpu-quota", "25000", "--rootfs", fx.rootfs, "sh", "-c", "echo ready; sleep 5"]);
      try {
        await new OutputReader(proc.stdout).until("ready");
        const id = await idOf("softlimits");
        const memory = files.dir(id, "memory");
        const cpu = files.dir(id, "cpu");
        if (files === v1) {
          expect(readFileSync(join(memory, "memory.soft_limit_in_bytes"), "utf8").trim()).toBe(String(32 << 20));
          expect([readFileSync(join(cpu, "cpu.cfs_period_us"), "utf8").trim(), readFileSync(join(cpu, "cpu.cfs_quota_us"), "utf8").trim()]).toEqual(["50000", "25000"]);
        } else {
          expect(readFileSync(join(memory, "memory.low"), "utf8").trim()).toBe(String(32 << 20));
          expect(readFileSync(join(cpu, "cpu.max"), "utf8").trim()).toBe("25000 50000");
        }
      } finally {
        await endContainer(proc);
      }
    });

    test("a fork loop under --pids-limit 20 never has more than 20 tasks; the host is unharmed", async () => {
      const marker = `forkloop-${process.pid}`;
      // The loop runs until a fork fails; PID 1 then counts the tasks with a builtin glob (no fork
      // left for ls) and stays a moment, so the counters can be read from outside. The sleepers
      // would outlive it by far if the container's end did not take them along.
      const script = `(while :; do sleep 517 & done) 2>/tmp/err; read err </tmp/err; echo "$err"; set -- /proc/[0-9]*; echo tasks=$#; exec sleep 2`;
      const proc = cboxSpawn(["run", "--rm", "--root", fx.store, "--name", "forkloop", "--pids-limit", "20", "--rootfs", fx.rootfs, "sh", "-c", script, marker]);
      const out = new OutputReader(proc.stdout);
      // The name is taken before the cgroup is made: wait for the cgroup, then sample until it goes.
      const dir = files.dir(await idOf("forkloop"), "pids");
      await untilExists(dir);
      let most = 0;
      let peak = 0;
      const sampling = (async () => {
        for (;;) {
          const current = readFileSync(join(dir, "pids.current"), "utf8");
          most = Math.max(most, Number(current));
          if (existsSync(join(dir, "pids.peak"))) peak = Number(readFileSync(join(dir, "pids.peak"), "utf8"));
          if (await Promise.race([proc.exited.then(() => true), Bun.sleep(2).then(() => false)])) return;
        }
      })().catch(() => undefined); // the cgroup is removed under a last read
      const text = await out.all();
      await proc.exited;
      await sampling;
      expect(text).toContain("can't fork");
      const tasks = Number(/tasks=(\d+)/.exec(text)![1]);
      expect(tasks).toBeLessThanOrEqual(20);
      expect(tasks).toBeGreaterThanOrEqual(15); // the loop did get to the limit
      expect(most).toBeLessThanOrEqual(20);
      expect(most).toBeGreaterThanOrEqual(15);
      if (peak) expect(peak).toBe(20);
      expect(await proc.exited).toBe(0);
      expect(Bun.spawnSync(["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do true & done; wait"]).exitCode).toBe(0);
      expect(processesWith(marker)).toEqual([]);
      expect(processesWith("sleep 517")).toEqual([]);
      expect(cboxCgroups()).toEqual([]);
    }, 30_000);

    test("a busy loop under --cpus 0.25 uses 25% of a CPU (within 20%), read from the cgroup's usage counter", async () => {
      const proc = cboxSpawn(["run", "--rm", "--root", fx.store, "--name", "busy", "--cpus", "0.25", "--rootfs", fx.rootfs, "sh", "-c", "while :; do :; done & exec sleep 6"]);
      const id = await idOf("busy");
      await untilExists(files.dir(id, "cpu"));
      await Bun.sleep(1000);
      const [u0, t0] = [files.cpuUsage(id), Bun.nanoseconds()];
      await Bun.sleep(3000);
      const [u1, t1] = [files.cpuUsage(id), Bun.nanoseconds()];
      const quota = readFileSync(join(files.dir(id, "cpu"), files === v1 ? "cpu.cfs_quota_us" : "cpu.max"), "utf8").trim();
      await proc.exited;
      const share = (u1 - u0) / (t1 - t0);
      console.log(`--cpus 0.25: the busy loop used ${(share * 100).toFixed(1)}% of a CPU over ${((t1 - t0) / 1e9).toFixed(1)} s`);
      expect(share).toBeGreaterThanOrEqual(0.2);
      expect(share).toBeLessThanOrEqual(0.3);
      expect(quota).toBe(files === v1 ? "25000" : "25000 100000");
      expect(cboxCgroups()).toEqual([]);
    }, 30_000);

    test("--cpuset-cpus and --cpu-shares: the container runs only on the CPUs given; the weight is set", async () => {
      const proc = cboxSpawn(["run", "--rm", "--root", fx.store, "--name", "pinned", "--cpuset-cpus", "0", "--cpu-shares", "512", "--rootfs", fx.rootfs, "sh", "-c", "grep Cpus_allowed_list /proc/self/status; sleep 5"]);
      const out = new OutputReader(proc.stdout);
      expect(await out.until("\n")).toMatch(/^Cpus_allowed_list:\s+0\n/);
      const cpu = files.dir(await idOf("pinned"), "cpu");
      if (files === v1) expect(readFileSync(join(cpu, "cpu.shares"), "utf8").trim()).toBe("512");
      else expect(readFileSync(join(cpu, "cpu.weight"), "utf8").trim()).toBe("20");
      await endContainer(proc);
    });

    test("the container sees its own cgroup as the root (a cgroup namespace); the host sees cbox/<id>", async () => {
      const proc = cboxSpawn(["run", "--rm", "--root", fx.store, "--name", "cgns", "--rootfs", fx.rootfs, "sh", "-c", "cat /proc/self/cgroup; echo done; sleep 5"]);
      const text = await new OutputReader(proc.stdout).until("done");
      const lines = text.split("\n").filter((l) => /^\d+:/.test(l));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).toEndWith(":/");
      const id = await idOf("cgns");
      const pid1 = containerPid(proc.pid);
      const host = readFileSync(`/proc/${pid1}/cgroup`, "utf8");
      expect(host).toContain(files === v1 ? `memory:/cbox/${id}\n` : `0::/cbox/${id}\n`);
      // In every cgroup cbox made for it (on v1 the process moves itself in, one hierarchy at a time)
      const made: string[] = JSON.parse(readFileSync(join(fx.store, "containers", id, "state.json"), "utf8")).cgroups;
      expect(made).toContain(files.dir(id, "memory"));
      for (const dir of made) expect(readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")).toContain(String(pid1));
      await endContainer(proc);
    });

    test("bad values are refused before anything is made: one line naming the flag, 125", () => {
      const cpus = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
      const missingCpu = String(Number(cpus.split(/[-,]/).at(-1)) + 1);
      const before = { store: treeListing(fx.store, false), cgroups: cboxCgroups() };
      const cases: [string[], string][] = [
        [["--memory", "12q"], "cbox: --memory 12q: expected a size such as 64m, 1g or a number of bytes\n"],
        [["--cpus", "-1"], "cbox: --cpus -1: expected a number from 0.01 to"],
        [["--cpuset-cpus", missingCpu], `cbox: --cpuset-cpus ${missingCpu}: this host has no CPU ${missingCpu}`],
        [["--pids-limit", "many"], "cbox: --pids-limit many: expected a whole number"],
        [["--memory-swap", "1g"], "cbox: --memory-swap needs --memory\n"],
        [["--memory", "64m", "--memory-reservation", "128m"], "cbox: --memory-reservation 128m: above --memory 64m"],
        [["--cpu-period", "10"], "cbox: --cpu-period 10: expected microseconds from 1000 to 1000000\n"],
        [["--cpu-quota", "many"], "cbox: --cpu-quota many: expected microseconds"],
        [["--cpus", "1", "--cpu-quota", "50000"], "cbox: --cpus and --cpu-period/--cpu-quota say the same thing twice"],
      ];
      for (const [flags, message] of cases) {
        const r = run([...flags, "--name", "refused", sh("true")]);
        expect(r.code).toBe(125);
        expect(r.stderr).toStartWith(message);
        expect(r.stderr.split("\n")).toHaveLength(2);
      }
      expect({ store: treeListing(fx.store, false), cgroups: cboxCgroups() }).toEqual(before);
    });

    test("a cbox killed with SIGKILL leaves its cgroup; the next cbox command removes it", async () => {
      const proc = cboxSpawn(["run", "--root", fx.store, "--name", "killed", "-m", "64m", "--rootfs", fx.rootfs, "sh", "-c", "echo ready; sleep 100"]);
      await new OutputReader(proc.stdout).until("ready");
      const dir = files.dir(await idOf("killed"), "memory");
      proc.kill("SIGKILL");
      await proc.exited;
      expect(existsSync(dir)).toBe(true);
      expect(run([sh("true")]).code).toBe(0);
      expect(existsSync(dir)).toBe(false);
      expect(cbox(["rm", "--root", fx.store, "killed"]).code).toBe(0);
      expect(cboxCgroups()).toEqual([]);
    });
  });
}

// The v2 driver against the real kernel wherever a cgroup2 is mounted, also on a hybrid host
// whose cgroup2 has no controllers: making, entering and removing need none.
describe.skipIf(!isRoot || !layout.unified)("the v2 driver on this host's cgroup2", () => {
  test("makes cbox/<id>, moves a process in, and removes both folders once it has ended", async () => {
    const id = "f".repeat(64);
    const cg = new V2Cgroup(layout.unified!, id, {}, []);
    cg.create();
    const sleeper = Bun.spawn(["sleep", "30"]);
    try {
      cg.enter(sleeper.pid);
      expect(readFileSync(`/proc/${sleeper.pid}/cgroup`, "utf8")).toContain(`0::/cbox/${id}\n`);
      expect(readFileSync(join(layout.unified!, "cbox", id, "cgroup.procs"), "utf8").trim()).toBe(String(sleeper.pid));
      expect(cg.oomKills()).toBe(0);
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.exited;
      cg.remove();
    }
    expect(existsSync(join(layout.unified!, "cbox"))).toBe(false);
  });

  test("a cgroup that still holds a process (a dead container's remains) is waited for, then its process is killed and it goes", async () => {
    const id = "0".repeat(64);
    const cg = new V2Cgroup(layout.unified!, id, {}, []);
    cg.create();
    const sleeper = Bun.spawn(["sleep", "30"]);
    cg.enter(sleeper.pid);
    cg.remove();
    expect(existsSync(join(layout.unified!, "cbox", id))).toBe(false);
    await sleeper.exited;
    expect(sleeper.signalCode).toBe("SIGKILL");
  });
});
