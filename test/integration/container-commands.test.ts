// pause, unpause, top, stats, update and rename on detached containers, docker's way.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cbox, cboxSpawn, isRoot, processesWith, procStat, removeDir, rootfsFixture, tempDir } from "./helpers.ts";

const fx = rootfsFixture();
const c = (args: string[], env?: Record<string, string>) => cbox([args[0]!, "--root", fx.store, ...args.slice(1)], { env });

/** run -d --network none NAME: the id it printed. */
function runDetached(name: string, command: string[], flags: string[] = []): string {
  const r = c(["run", "-d", "--network", "none", "--name", name, ...flags, "--rootfs", fx.rootfs, ...command]);
  expect(r).toMatchObject({ code: 0, stderr: "" });
  return r.stdout.trim();
}

function inspect(ref: string) {
  return JSON.parse(c(["inspect", ref]).stdout)[0];
}

/** Runs body, then removes the containers named, whatever happened in body. */
async function withContainers(names: string[], body: () => unknown): Promise<void> {
  try {
    await body();
  } finally {
    c(["rm", "-f", ...names]);
  }
}

/** The container's cgroup folder in the v1 hierarchy (or v2 cgroup) that holds file. */
function cgroupWith(ref: string, file: string): string {
  const found = (inspect(ref).Cgroups as string[]).find((p) => existsSync(join(p, file)));
  if (!found) throw new Error(`no cgroup of ${ref} has ${file}`);
  return found;
}

function cgroupValue(ref: string, file: string): string {
  return readFileSync(join(cgroupWith(ref, file), file), "utf8").trim();
}

async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(20)) if (check()) return true;
  return check();
}

describe.skipIf(!isRoot)("pause, unpause, top, stats, update, rename", () => {
  // Belt and braces: whatever a failed test left is removed before the next one.
  afterEach(() => {
    const left = c(["ps", "-a", "-q"]).stdout.split("\n").filter(Boolean);
    if (left.length) c(["rm", "-f", ...left]);
  });

  test("pause freezes every process (ps, inspect show it paused; exec is refused); unpause thaws them", async () => {
    const out = tempDir();
    await withContainers(["ticker"], async () => {
      // PID 1 and a child each count into a host folder: frozen, neither count moves
      const count = (file: string) => `i=0; while :; do i=$((i+1)); echo $i > /out/${file}; sleep 0.05; done`;
      runDetached("ticker", ["sh", "-c", `(${count("child")}) & ${count("pid1")}`], ["-v", `${out}:/out`]);
      const read = () => ["pid1", "child"].map((f) => readFileSync(join(out, f), "utf8"));
      expect(await eventually(() => ["pid1", "child"].every((f) => existsSync(join(out, f))))).toBe(true);

      expect(c(["pause", "ticker"])).toMatchObject({ code: 0, stdout: "ticker\n", stderr: "" });
      expect(cgroupValue("ticker", "freezer.state")).toBe("FROZEN");
      const frozen = read();
      await Bun.sleep(500);
      expect(read()).toEqual(frozen);
      expect(c(["ps"]).stdout).toMatch(/ Up .* \(Paused\) +ticker\n/);
      expect(JSON.parse(c(["ps", "--format", "json"]).stdout)).toMatchObject({ Names: "ticker", State: "paused" });
      expect(inspect("ticker").State).toMatchObject({ Status: "paused", Running: true, Paused: true });
      expect(c(["pause", "ticker"])).toMatchObject({ code: 125, stderr: "cbox: container ticker is already paused\n" });
      expect(c(["exec", "ticker", "true"])).toMatchObject({ code: 125, stderr: "cbox: container ticker is paused; unpause it first (cbox unpause ticker)\n" });

      expect(c(["unpause", "ticker"])).toMatchObject({ code: 0, stdout: "ticker\n", stderr: "" });
      expect(await eventually(() => read().every((n, i) => n !== frozen[i]))).toBe(true);
      expect(inspect("ticker").State).toMatchObject({ Status: "running", Running: true, Paused: false });
      expect(c(["ps"]).stdout).not.toContain("Paused");
      expect(c(["unpause", "ticker"])).toMatchObject({ code: 125, stderr: "cbox: container ticker is not paused\n" });
    }).finally(() => removeDir(out));
  });

  test("stop, kill and rm -f of a paused container: the signal is delivered once it is thawed", async () => {
    await withContainers(["polite", "stubborn", "doomed"], () => {
      runDetached("polite", ["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done"]);
      runDetached("stubborn", ["sleep", "3101"]);
      const doomedId = runDetached("doomed", ["sleep", "3102"]);
      expect(c(["pause", "polite", "stubborn", "doomed"])).toMatchObject({ code: 0, stdout: "polite\nstubborn\ndoomed\n" });

      expect(c(["stop", "-t", "30", "polite"])).toMatchObject({ code: 0, stdout: "polite\n" });
      expect(inspect("polite").State).toMatchObject({ Status: "exited", ExitCode: 3, Paused: false });
      expect(c(["kill", "stubborn"])).toMatchObject({ code: 0, stdout: "stubborn\n" });
      expect(c(["wait", "stubborn"]).stdout).toBe("137\n");

      const cgroups = inspect("doomed").Cgroups as string[];
      expect(c(["rm", "-f", "doomed"])).toMatchObject({ code: 0, stdout: "doomed\n" });
      expect(processesWith("sleep 3102")).toEqual([]);
      expect(cgroups.filter((p) => existsSync(p))).toEqual([]);
      expect(readdirSync(join(fx.store, "containers"))).not.toContain(doomedId);
    });
  });

  test("a paused container whose monitor is killed with SIGKILL ends: ps -a shows it exited, nothing of it is left", async () => {
    await withContainers(["orphan"], async () => {
      runDetached("orphan", ["sleep", "3104"]);
      const { Pid: pid } = inspect("orphan").State;
      const cgroups = inspect("orphan").Cgroups as string[];
      const monitor = Number(procStat(pid)[1]);
      expect(readFileSync(`/proc/${monitor}/comm`, "utf8")).toBe("cbox-monitor\n");
      expect(c(["pause", "orphan"]).code).toBe(0);
      process.kill(monitor, "SIGKILL");
      expect(await eventually(() => /Exited .* ago +orphan\n/.test(c(["ps", "-a"]).stdout))).toBe(true);
      expect(await eventually(() => processesWith("sleep 3104").length === 0)).toBe(true);
      expect(cgroups.filter((p) => existsSync(p))).toEqual([]);
    });
  });

  test("pause and unpause: bad input is one line and 125, and nothing is frozen", async () => {
    await withContainers(["awake", "done"], () => {
      runDetached("awake", ["sleep", "3103"]);
      expect(c(["run", "--network", "none", "--name", "done", "--rootfs", fx.rootfs, "true"]).code).toBe(0);
      const cases: [string[], string][] = [
        [["pause", "nope"], "cbox: no such container: nope\n"],
        [["pause", "awake", "done"], "cbox: container done is not running\n"],
        [["unpause", "done"], "cbox: container done is not running\n"],
        [["unpause", "awake"], "cbox: container awake is not paused\n"],
        [["pause"], "cbox: cbox pause needs at least one container\n"],
        [["unpause"], "cbox: cbox unpause needs at least one container\n"],
      ];
      for (const [args, message] of cases) expect({ args, ...c(args) }).toMatchObject({ args, code: 125, stdout: "", stderr: message });
      // the running container given with the stopped one was checked, not frozen
      expect(cgroupValue("awake", "freezer.state")).toBe("THAWED");
    });
  });

  test("top: ps -ef's header and the container's processes only; ps options are passed on", async () => {
    await withContainers(["topped", "stopped"], () => {
      runDetached("topped", ["sh", "-c", "sleep 3201 & sleep 3202; wait"]);
      expect(c(["run", "--network", "none", "--name", "stopped", "--rootfs", fx.rootfs, "true"]).code).toBe(0);
      const pids = readFileSync(join(cgroupWith("topped", "cgroup.procs"), "cgroup.procs"), "utf8").trim().split("\n").map(Number);
      expect(pids).toHaveLength(3);

      const top = c(["top", "topped"]);
      expect(top).toMatchObject({ code: 0, stderr: "" });
      const [header, ...rows] = top.stdout.trimEnd().split("\n");
      expect(header).toMatch(/^UID +PID +PPID +C +STIME +TTY +TIME +CMD$/);
      expect(rows.map((r) => Number(r.trim().split(/\s+/)[1])).sort()).toEqual(pids.sort());
      expect(rows.map((r) => r.replace(/^.* \d\d:\d\d:\d\d /, "")).sort()).toEqual(["sh -c sleep 3201 & sleep 3202; wait", "sleep 3201", "sleep 3202"]);

      const own = c(["top", "topped", "-o", "pid,comm"]);
      expect(own.stdout.split("\n")[0]).toMatch(/^ *PID COMMAND$/);
      expect(own.stdout.trimEnd().split("\n").slice(1).map((r) => r.trim().split(/\s+/)[1]).sort()).toEqual(["sh", "sleep", "sleep"]);

      const cases: [string[], string | RegExp, Record<string, string>?][] = [
        [["top", "nope"], "cbox: no such container: nope\n"],
        [["top", "stopped"], "cbox: container stopped is not running\n"],
        [["top"], "cbox: cbox top needs a container: cbox top CONTAINER [ps OPTIONS]\n"],
        [["top", "topped", "-o", "comm"], "cbox: ps -o comm: its output has no PID column; give options that show it (such as -ef, or -o pid,args)\n"],
        [["top", "topped", "--no-such-ps-option"], /^cbox: ps --no-such-ps-option: .+\n$/],
        [["top", "topped"], "cbox: cbox top runs the host's ps, and ps is not installed (Debian and Ubuntu: apt-get install procps)\n", { PATH: "/nonexistent" }],
      ];
      for (const [args, message, env] of cases) {
        const r = c(args, env);
        expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 125, stdout: "" });
        if (typeof message === "string") expect(r.stderr).toBe(message);
        else expect(r.stderr).toMatch(message);
      }
    });
  });

  test("stats --no-stream: docker's columns from the cgroup; --format json; the running ones when none is named", async () => {
    await withContainers(["busy", "idle", "ended"], () => {
      runDetached("busy", ["sh", "-c", "while :; do :; done"], ["--memory", "64m"]);
      runDetached("idle", ["sh", "-c", "sleep 3301 & sleep 3302; wait"]);
      expect(c(["run", "--network", "none", "--name", "ended", "--rootfs", fx.rootfs, "true"]).code).toBe(0);

      const tableOut = c(["stats", "--no-stream", "busy", "idle"]);
      expect(tableOut).toMatchObject({ code: 0, stderr: "" });
      const [header, busy, idle, end] = tableOut.stdout.split("\n");
      expect(header).toMatch(/^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS$/);
      expect(busy).toMatch(/^[0-9a-f]{12} +busy +\d+\.\d\d% +[\d.]+(B|KiB|MiB) \/ 64MiB +\d+\.\d\d% +0B \/ 0B +[\d.]+[kMG]?B \/ [\d.]+[kMG]?B +1$/);
      expect(idle).toMatch(/^[0-9a-f]{12} +idle +\d+\.\d\d% +[\d.]+(B|KiB|MiB) \/ [\d.]+[GT]iB +\d+\.\d\d% +0B \/ 0B +[\d.]+[kMG]?B \/ [\d.]+[kMG]?B +3$/);
      expect(end).toBe("");

      const json = c(["stats", "--no-stream", "--format", "json", "busy", "ended"]);
      const [busyJson, endedJson] = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
      expect(Object.keys(busyJson)).toEqual(["ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"]);
      expect(busyJson).toMatchObject({ ID: inspect("busy").Id.slice(0, 12), Name: "busy", NetIO: "0B / 0B", PIDs: "1" });
      // a busy loop used the CPU between the two readings
      expect(parseFloat(busyJson.CPUPerc)).toBeGreaterThan(0);
      expect(busyJson.MemUsage).toMatch(/ \/ 64MiB$/);
      expect(endedJson).toEqual({ ID: inspect("ended").Id.slice(0, 12), Name: "ended", CPUPerc: "0.00%", MemUsage: "0B / 0B", MemPerc: "0.00%", NetIO: "0B / 0B", BlockIO: "0B / 0B", PIDs: "0" });

      const running = c(["stats", "--no-stream", "--format", "json"]).stdout.trimEnd().split("\n").map((l) => JSON.parse(l).Name);
      expect(running.sort()).toEqual(["busy", "idle"]);
    });
  });

  test("stats without --no-stream prints a new reading every second until it is stopped", async () => {
    await withContainers(["watched"], async () => {
      runDetached("watched", ["sleep", "3303"]);
      const proc = cboxSpawn(["stats", "--root", fx.store, "--format", "json", "watched"]);
      try {
        // not a terminal: no screen clearing, one line a reading
        const reader = proc.stdout.getReader();
        let seen = "";
        while (seen.split("\n").length < 3) {
          const { value, done } = await reader.read();
          if (done) break;
          seen += new TextDecoder().decode(value);
        }
        const lines = seen.split("\n").filter(Boolean);
        expect(lines.length).toBeGreaterThanOrEqual(2);
        for (const line of lines.slice(0, 2)) expect(JSON.parse(line)).toMatchObject({ Name: "watched", PIDs: "1" });
        expect(proc.exitCode).toBeNull();
      } finally {
        proc.kill();
        await proc.exited;
      }
    });
  });

  test("stats: bad input is one line and 125", () => {
    const cases: [string[], string][] = [
      [["stats", "--no-stream", "nope"], "cbox: no such container: nope\n"],
      [["stats", "--no-stream", "--format", "yaml"], 'cbox: --format "yaml": use table or json\n'],
    ];
    for (const [args, message] of cases) expect({ args, ...c(args) }).toMatchObject({ args, code: 125, stdout: "", stderr: message });
  });

  test("update: new limits in a running container's cgroup, in inspect and spec.json, and kept by start", async () => {
    await withContainers(["limited", "pinned"], () => {
      const id = runDetached("limited", ["sleep", "3401"], ["--memory", "64m", "--pids-limit", "20"]);
      expect(c(["update", "--memory", "256m", "--pids-limit", "50", "--cpus", "0.5", "--cpu-shares", "512", "limited"])).toMatchObject({ code: 0, stdout: "limited\n", stderr: "" });
      expect(cgroupValue("limited", "memory.limit_in_bytes")).toBe(String(256 << 20));
      if (existsSync(join(cgroupWith("limited", "memory.limit_in_bytes"), "memory.memsw.limit_in_bytes"))) {
        expect(cgroupValue("limited", "memory.memsw.limit_in_bytes")).toBe(String(512 << 20)); // raised before the memory limit
      }
      expect(cgroupValue("limited", "pids.max")).toBe("50");
      expect(cgroupValue("limited", "cpu.cfs_quota_us")).toBe("50000");
      expect(cgroupValue("limited", "cpu.shares")).toBe("512");
      const limits = { memory: 256 << 20, pidsLimit: 50, cpuQuota: 50_000, cpuPeriod: 100_000, cpuShares: 512 };
      expect(inspect("limited").Limits).toEqual(limits);
      expect(JSON.parse(readFileSync(join(fx.store, "containers", id, "spec.json"), "utf8")).limits).toEqual(limits);

      // -1: the limit goes
      expect(c(["update", "--pids-limit", "-1", "limited"]).code).toBe(0);
      expect(cgroupValue("limited", "pids.max")).toBe("max");
      expect(inspect("limited").Limits.pidsLimit).toBeUndefined();

      // a stopped container's limits are recorded; start makes its cgroup with them
      expect(c(["stop", "-t", "0", "limited"]).code).toBe(0);
      expect(c(["update", "--memory", "96m", "limited"])).toMatchObject({ code: 0, stdout: "limited\n" });
      expect(c(["start", "limited"]).code).toBe(0);
      expect(cgroupValue("limited", "memory.limit_in_bytes")).toBe(String(96 << 20));
      expect(cgroupValue("limited", "cpu.shares")).toBe("512");

      runDetached("pinned", ["sleep", "3402"], ["--cpuset-cpus", "0"]);
      expect(c(["update", "--cpuset-cpus", "0-1", "pinned"]).code).toBe(0);
      expect(cgroupValue("pinned", "cpuset.cpus")).toBe("0-1");
    });
  });

  test("update: bad input is one line and 125, and no limit changes", async () => {
    await withContainers(["kept"], () => {
      runDetached("kept", ["sleep", "3403"], ["--memory", "64m", "--memory-swap", "128m"]);
      const cases: [string[], string][] = [
        [["update", "--cpuset-cpus", "0", "kept"], "cbox: --cpuset-cpus: container kept was made without the cpuset cgroup controller; recreate it with --cpuset-cpus to limit it\n"],
        [["update", "--memory", "1k", "kept"], "cbox: --memory 1k: the minimum is 6m\n"],
        [["update", "--memory", "lots", "kept"], "cbox: --memory lots: expected a size such as 64m, 1g or a number of bytes\n"],
        [["update", "--cpus", "99", "kept"], "cbox: --cpus 99: expected a number from 0.01 to 2 (this host has 2 CPUs)\n"],
        [["update", "--pids-limit", "many", "kept"], "cbox: --pids-limit many: expected a whole number (0 or -1: no limit)\n"],
        [["update", "--memory", "256m", "kept"], "cbox: --memory 256m: more than the container's memory plus swap limit (128 MiB); give --memory-swap too\n"],
        [["update", "kept"], "cbox: cbox update needs at least one limit to change: --memory, --memory-swap, --memory-reservation, --cpus, --cpu-period, --cpu-quota, --cpu-shares, --cpuset-cpus or --pids-limit\n"],
        [["update", "--memory", "64m"], "cbox: cbox update needs at least one container\n"],
        [["update", "--memory", "64m", "nope"], "cbox: no such container: nope\n"],
        [["update", "--pids-limit", "5", "kept", "nope"], "cbox: no such container: nope\n"],
      ];
      for (const [args, message] of cases) expect({ args, ...c(args) }).toMatchObject({ args, code: 125, stdout: "", stderr: message });
      expect(cgroupValue("kept", "memory.limit_in_bytes")).toBe(String(64 << 20));
      expect(cgroupValue("kept", "pids.max")).toBe("max");
      expect(inspect("kept").Limits).toEqual({ memory: 64 << 20, memorySwap: 128 << 20 });
    });
  });

  test("rename: a running and a stopped container get their new name in ps, inspect, names/ and spec.json", async () => {
    await withContainers(["old", "new", "was-stopped", "now-stopped"], () => {
      const id = runDetached("old", ["sleep", "3501"]);
      expect(c(["rename", "old", "new"])).toMatchObject({ code: 0, stdout: "", stderr: "" });
      expect(c(["ps"]).stdout).toMatch(/ new\n$/);
      expect(inspect("new")).toMatchObject({ Id: id, Name: "new", State: { Status: "running" } });
      expect(c(["inspect", "old"])).toMatchObject({ code: 125, stderr: "cbox: no such container: old\n" });
      expect(readdirSync(join(fx.store, "names"))).toEqual(["new"]);
      expect(JSON.parse(readFileSync(join(fx.store, "containers", id, "spec.json"), "utf8")).name).toBe("new");
      // the old name is free again
      runDetached("old", ["sleep", "3502"]);

      expect(c(["run", "--network", "none", "--name", "was-stopped", "--rootfs", fx.rootfs, "true"]).code).toBe(0);
      expect(c(["rename", "was-stopped", "now-stopped"]).code).toBe(0);
      expect(c(["start", "now-stopped"])).toMatchObject({ code: 0, stdout: "now-stopped\n" });
      expect(inspect("now-stopped").Name).toBe("now-stopped");
      expect(readdirSync(join(fx.store, "names")).sort()).toEqual(["new", "now-stopped", "old"]);
    });
  });

  test("rename: bad input is one line and 125, and no name changes", async () => {
    await withContainers(["one", "two"], () => {
      const one = runDetached("one", ["sleep", "3503"]);
      const two = runDetached("two", ["sleep", "3504"]);
      const cases: [string[], string][] = [
        [["rename", "one", "two"], `cbox: the name "two" is already in use by container ${two.slice(0, 12)}; remove it or pick another name\n`],
        [["rename", "one", "one"], "cbox: container one is named one already; give another name\n"],
        [["rename", "one", "no/slash"], 'cbox: new name "no/slash": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n'],
        [["rename", "one", "_under"], 'cbox: new name "_under": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n'],
        [["rename", "nope", "three"], "cbox: no such container: nope\n"],
        [["rename", "one"], "cbox: cbox rename needs two arguments: cbox rename CONTAINER NEW_NAME\n"],
        [["rename", "one", "three", "four"], "cbox: cbox rename needs two arguments: cbox rename CONTAINER NEW_NAME\n"],
      ];
      for (const [args, message] of cases) expect({ args, ...c(args) }).toMatchObject({ args, code: 125, stdout: "", stderr: message });
      expect(readdirSync(join(fx.store, "names")).sort()).toEqual(["one", "two"]);
      expect([inspect("one").Id, inspect("two").Id]).toEqual([one, two]);
    });
  });
});
