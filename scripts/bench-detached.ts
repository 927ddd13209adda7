// 50 detached containers: the memory of cbox's monitor per container, and `cbox ps` with 50
// containers against `crun list` with 50 (crun keeps no process per container; docker's
// containerd-shim and podman's conmon are not on this machine). Writes its section of BENCHMARKS.md.
//
//   bun scripts/bench-detached.ts
//
// Env: BENCH_CONTAINERS (default 50), BENCH_RUNS (default 30), BENCH_NO_BUILD=1 (reuse dist/cbox).
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCbox, hyperfine, line, machineLine, ms as f, run, version, writeSection } from "./bench-lib.ts";

const COUNT = Number(process.env.BENCH_CONTAINERS ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const GOAL_KB = 5 * 1024;
const GOAL_PS_RATIO = 1.5; // cbox ps -a within 1.5x of crun list (issue 19)
const CGROUP2_STUB = "/sys/fs/cgroup/unified";

// As in bench-start.ts: crun refuses an empty cgroup2 next to v1 controllers, so it runs in a
// mount namespace without that mount.
const hybrid = readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === CGROUP2_STUB);
const inNs = (cmd: string[]) => (hybrid ? ["unshare", "-m", "sh", "-c", `umount ${CGROUP2_STUB} 2>/dev/null; exec "$@"`, "sh", ...cmd] : cmd);

/** kB from a "Name:   123 kB" line of a /proc file. */
function procKb(path: string, name: string): number {
  return Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(readFileSync(path, "utf8"))?.[1] ?? NaN);
}

const stats = (xs: number[]) => ({ mean: xs.reduce((a, b) => a + b, 0) / xs.length, max: Math.max(...xs), min: Math.min(...xs) });

async function main() {
  if (process.getuid?.() !== 0) throw new Error("run as root: crun and the cgroups need it");
  const cbox = buildCbox();
  const tmp = mkdtempSync(join(tmpdir(), "cbox-bench-detached-"));
  const store = join(tmp, "store");
  const crunIds = Array.from({ length: COUNT }, (_, i) => `cbox-bench-d${i}`);
  try {
    const rootfs = join(tmp, "rootfs");
    run(["sh", "rootfs/build.sh", rootfs]);
    const bundle = join(tmp, "crun");
    mkdirSync(bundle);
    run(["crun", "spec"], { cwd: bundle, quiet: true });
    const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
    spec.process.args = ["sleep", "3600"];
    spec.process.terminal = false;
    spec.root = { path: rootfs, readonly: true };
    await Bun.write(join(bundle, "config.json"), JSON.stringify(spec));

    const t0 = Bun.nanoseconds();
    const ids = Array.from({ length: COUNT }, () => run([cbox, "run", "-d", "--root", store, "--network", "none", "--rootfs", rootfs, "sleep", "3600"], { quiet: true }).trim());
    const startMs = (Bun.nanoseconds() - t0) / 1e6 / COUNT;
    for (const id of crunIds) startCrun(inNs(["crun", "run", "-d", "-b", bundle, id]));

    const inspected = JSON.parse(run([cbox, "inspect", "--root", store, ...ids], { quiet: true }));
    const monitors = inspected.map((c: any) => Number(readFileSync(`/proc/${c.State.Pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]));
    const rss = stats(monitors.map((pid: number) => procKb(`/proc/${pid}/status`, "VmRSS")));
    const pss = stats(monitors.map((pid: number) => procKb(`/proc/${pid}/smaps_rollup`, "Pss")));

    const rows = await hyperfine(
      [
        { name: `cbox ps -a (${COUNT} containers)`, cmd: line([cbox, "ps", "-a", "--root", store]) },
        { name: `crun ${version(["crun", "--version"])} list (${COUNT} containers)`, cmd: line(["crun", "list"]) },
      ],
      { runs: RUNS, tmp, wrap: inNs },
    );

    const t1 = Bun.nanoseconds();
    run([cbox, "rm", "-f", "--root", store, ...ids], { quiet: true });
    const rmMs = (Bun.nanoseconds() - t1) / 1e6 / COUNT;

    const kb = (n: number) => `${(n / 1024).toFixed(2)} MiB`;
    const psRatio = rows[0]!.mean / rows[1]!.mean;
    const body = [
      "## Detached containers",
      "",
      `${COUNT} containers running \`sleep 3600\`, started one after another with \`cbox run -d\` (${f(startMs)} ms each, wall time) and removed with one \`cbox rm -f\` (${f(rmMs)} ms each).`,
      "",
      "Memory of cbox's monitor (one per running container; a process forked from cbox that runs only the C shim):",
      "",
      "| per monitor | mean | min | max |",
      "|---|--:|--:|--:|",
      `| VmRSS | ${kb(rss.mean)} | ${kb(rss.min)} | ${kb(rss.max)} |`,
      `| Pss | ${kb(pss.mean)} | ${kb(pss.min)} | ${kb(pss.max)} |`,
      "",
      `Goal: under 5 MiB of RSS per running container. ${rss.max < GOAL_KB ? "Met" : "NOT met"}: the largest monitor has ${kb(rss.max)}. crun keeps no process per detached container (0 MiB); docker's containerd-shim and podman's conmon are not installed here.`,
      "",
      "Listing with the containers running:",
      "",
      "| command | mean ms | ± ms | min ms | max ms |",
      "|---|--:|--:|--:|--:|",
      ...rows.map((r) => `| ${r.name} | ${f(r.mean)} | ${f(r.stddev)} | ${f(r.min)} | ${f(r.max)} |`),
      "",
      `Goal: \`cbox ps -a\` within ${GOAL_PS_RATIO}x of \`crun list\` (means, same hyperfine run). ${psRatio <= GOAL_PS_RATIO ? "Met" : "NOT met"}: ${psRatio.toFixed(2)}x.`,
      "",
      `${machineLine(RUNS)} · every command runs without a shell (\`-N\`)${hybrid ? ` inside a private mount namespace with the empty cgroup2 at ${CGROUP2_STUB} unmounted` : ""}.`,
      "",
      "Commands (`bun scripts/bench-detached.ts`): `dist/cbox run -d --root STORE --network none --rootfs ROOTFS sleep 3600`, `dist/cbox ps -a --root STORE`, `crun run -d -b BUNDLE ID`, `crun list`.",
    ].join("\n");
    await writeSection("bench-detached", body);
    console.log(`\n${body}\n`);
  } finally {
    for (const id of crunIds) Bun.spawnSync({ cmd: inNs(["crun", "delete", "-f", id]), stdout: "ignore", stderr: "ignore" });
    Bun.spawnSync({ cmd: [join(import.meta.dir, "../dist/cbox"), "rm", "-f", "--root", store, ...listIds(store)], stdout: "ignore", stderr: "ignore" });
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A detached crun container keeps crun's stdio: not a pipe, whose end would never come. */
function startCrun(cmd: string[]): void {
  const p = Bun.spawnSync({ cmd, stdin: "ignore", stdout: "ignore", stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`command failed (exit ${p.exitCode}): ${cmd.join(" ")}`);
}

function listIds(store: string): string[] {
  try {
    return run([join(import.meta.dir, "../dist/cbox"), "ps", "-a", "-q", "--root", store], { quiet: true }).split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

await main().catch((e) => {
  console.error(`bench-detached: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
