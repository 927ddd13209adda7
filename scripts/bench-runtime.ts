// cbox as an OCI runtime against crun and runc: create, start and delete of /bin/true from one
// bundle, as an engine's shim drives a runtime, timed by hyperfine. Writes its own section of
// BENCHMARKS.md and prints it.
//
//   bun scripts/bench-runtime.ts            (as root)
//
// Env: BENCH_RUNS (default 50), BENCH_ROOTFS, BENCH_NO_BUILD=1 (reuse dist/cbox).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildCbox, buildRootfs, hyperfine, line, machineLine, ms as f, run, version, writeSection, type Row } from "./bench-lib.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const ID = "cbox-bench-oci";
const GOAL = "cbox-runtime's create, start and delete no slower than crun's";
const CGROUP2_STUB = "/sys/fs/cgroup/unified";

// crun refuses cgroups when an empty cgroup2 is mounted next to v1 controllers ("hybrid mode"):
// every runtime runs in a private mount namespace with that mount removed (as bench-start).
const hybrid = readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === CGROUP2_STUB);
const inNs = (cmd: string[]) => (hybrid ? ["unshare", "-m", "sh", "-c", `umount ${CGROUP2_STUB} 2>/dev/null; exec "$@"`, "sh", ...cmd] : cmd);

type Runtime = { name: string; bin: string; state: string };

/** The three steps an engine runs, in one shell (whose own start the baseline row shows). */
function lifecycle(rt: Runtime, bundle: string): string {
  const r = (args: string[]) => line([rt.bin, "--root", rt.state, ...args]);
  return line(["sh", "-c", `${r(["create", "--bundle", bundle, ID])} && ${r(["start", ID])} && ${r(["delete", "--force", ID])}`]);
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error("run as root: the runtimes make namespaces and cgroups");
  for (const tool of ["crun", "runc", "hyperfine"]) if (!Bun.which(tool)) throw new Error(`${tool} is missing: apt-get install -y crun runc hyperfine`);
  const cbox = buildCbox();
  const tmp = mkdtempSync(join(tmpdir(), "cbox-bench-oci-"));
  const runtimes: Runtime[] = [
    { name: `crun ${version(["crun", "--version"])}`, bin: "crun", state: join(tmp, "state-crun") },
    { name: `runc ${version(["runc", "--version"])}`, bin: "runc", state: join(tmp, "state-runc") },
    // the link scripts/build.ts makes beside dist/cbox
    { name: "cbox-runtime", bin: join(dirname(cbox), "cbox-runtime"), state: join(tmp, "state-cbox") },
  ];
  try {
    const rootfs = buildRootfs(tmp);
    const bundle = join(tmp, "bundle");
    mkdirSync(bundle);
    // runc's default spec, the same for all three: pid, network, ipc, uts and mount namespaces.
    run(["runc", "spec"], { cwd: bundle, quiet: true });
    const spec = await Bun.file(join(bundle, "config.json")).json();
    spec.process.args = ["/bin/true"];
    spec.process.terminal = false;
    spec.root = { path: rootfs, readonly: true };
    await Bun.write(join(bundle, "config.json"), JSON.stringify(spec));

    const v = line([cbox, "--version"]);
    const benches = [
      { name: "baseline: sh -c true", cmd: line(["sh", "-c", "true"]) },
      ...runtimes.map((rt) => ({ name: rt.name, cmd: lifecycle(rt, bundle) })),
      // What three processes of the executable cost before any work: the floor under cbox-runtime's row.
      { name: "cbox --version, three times", cmd: line(["sh", "-c", `${v} && ${v} && ${v}`]) },
    ];
    const rows = await hyperfine(benches, { runs: RUNS, tmp, wrap: inNs });
    const body = report(rows);
    await writeSection("bench-runtime", body);
    console.log(`\n${body}\n`);
  } finally {
    for (const rt of runtimes) Bun.spawnSync({ cmd: inNs([rt.bin, "--root", rt.state, "delete", "--force", ID]), stdout: "ignore", stderr: "ignore" });
    rmSync(tmp, { recursive: true, force: true });
  }
}

function report(rows: Row[]): string {
  const crun = rows[1]!;
  const cbox = rows[3]!;
  const floor = rows[4]!;
  const met = cbox.mean <= crun.mean;
  return [
    "## OCI runtime: create, start, delete",
    "",
    "Time for an engine's three calls on one bundle (runc's default spec, `/bin/true`, read-only root): `create`, `start`, `delete --force`, in one `sh -c`.",
    "",
    "| runtime | mean ms | ± ms | min ms | max ms | vs crun |",
    "|---|--:|--:|--:|--:|--:|",
    ...rows.map((r) => `| ${r.name} | ${f(r.mean)} | ${f(r.stddev)} | ${f(r.min)} | ${f(r.max)} | ${f(r.mean / crun.mean)}x |`),
    "",
    `${machineLine(RUNS)} · each runtime with a state folder of its own, inside a private mount namespace${hybrid ? " with the empty cgroup2 at /sys/fs/cgroup/unified unmounted" : ""}.`,
    "",
    `Goal: ${GOAL}. Goal ${met ? "met" : "NOT met"}: cbox-runtime is ${f(cbox.mean / crun.mean)}x crun (${f(cbox.mean)} ms against ${f(crun.mean)} ms). An engine runs the runtime three times, and three starts of the executable that do nothing (\`cbox --version\`) already take ${f(floor.mean)} ms, ${Math.round((100 * floor.mean) / crun.mean)}% of crun's whole create, start and delete: Bun's start-up and the loading of cbox's code, paid once per call, leave ${f(crun.mean - floor.mean)} ms for the work crun does in all three.`,
    "",
    "Commands (`bun scripts/bench-runtime.ts`): `sh -c 'RUNTIME --root STATE create --bundle BUNDLE ID && RUNTIME --root STATE start ID && RUNTIME --root STATE delete --force ID'`; `sh -c 'dist/cbox --version && dist/cbox --version && dist/cbox --version'`",
  ].join("\n");
}

await main().catch((e) => {
  console.error(`bench-runtime: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
