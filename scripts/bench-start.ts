// Container start latency: cbox vs crun, runc and bubblewrap, timed by hyperfine; where cbox's
// start spends its time (CBOX_TIMING=1); run -d and exec against crun's. Writes its own section
// of BENCHMARKS.md and prints it.
//
//   bun scripts/bench-start.ts
//
// Env: BENCH_RUNS (default 50), BENCH_ROOTFS (use this rootfs instead of building one),
//      BENCH_NO_BUILD=1 (reuse dist/cbox), BENCH_ONLY_PEERS=1 (skip cbox).
import { mkdtempSync, rmSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OUT, type Bench, type Row, buildCbox, hyperfine, line, machineLine, ms as f, run, version, writeSection, buildRootfs } from "./bench-lib.ts";
import { measurePhases, phaseTable, type Phases } from "./bench-phases.ts";

const GOAL = "cbox within 1.5x of crun's mean start time and faster than runc";
const HELLO_FS = "Bun: the hello world, printing through node:fs";
const FLOOR = "floor: cbox's kernel and file work in Bun, with none of its logic";
const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const ONLY_PEERS = process.env.BENCH_ONLY_PEERS === "1";
const CGROUP2_STUB = "/sys/fs/cgroup/unified";
const LIMITS = ["--memory", "64m", "--cpus", "1", "--pids-limit", "100"];
const IDS = { crun: "cbox-bench-crun", runc: "cbox-bench-runc", crunDetached: "cbox-bench-crun-d", crunExec: "cbox-bench-crun-x" };
const CBOX_NAMES = { detached: "cbox-bench-d", exec: "cbox-bench-x" };

type Peer = { name: string; cmd: string[]; shown: string };

// crun refuses cgroups when an empty cgroup2 is mounted next to v1 controllers ("hybrid mode").
// Every peer therefore runs inside a private mount namespace with that mount removed.
const hybrid = readFileSync("/proc/self/mountinfo", "utf8")
  .split("\n")
  .some((l) => l.split(" ")[4] === CGROUP2_STUB);
function inNs(cmd: string[]): string[] {
  if (!hybrid) return cmd;
  return ["unshare", "-m", "sh", "-c", `umount ${CGROUP2_STUB} 2>/dev/null; exec "$@"`, "sh", ...cmd];
}

function ensureTools() {
  const missing = ["crun", "runc", "bwrap", "hyperfine", "unshare"].filter((t) => !Bun.which(t));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new Error(`missing tools: ${missing.join(", ")}; install with: apt-get install -y crun runc bubblewrap hyperfine`);
  console.log(`installing missing tools: ${missing.join(", ")}`);
  run(["apt-get", "install", "-y", "crun", "runc", "bubblewrap", "hyperfine"]);
}

// OCI bundle from the runtime's own default spec, changed only where the benchmark needs it.
async function makeBundle(runtime: "crun" | "runc", dir: string, rootfs: string, args = ["/bin/true"]) {
  mkdirSync(dir, { recursive: true });
  run([runtime, "spec"], { cwd: dir, quiet: true });
  const path = join(dir, "config.json");
  const spec = await Bun.file(path).json();
  spec.process.args = args;
  spec.process.terminal = false;
  spec.root = { path: rootfs, readonly: true };
  spec.hostname = "bench";
  await Bun.write(path, JSON.stringify(spec, null, 2));
}

// `crun run` / `runc run` (without --detach) delete the container once its process exits,
// so a fixed id can be reused run after run. This only removes leftovers of an interrupted run.
const runtimeOf = (id: string) => (id === IDS.runc ? "runc" : "crun");
function removeContainers() {
  for (const id of Object.values(IDS))
    Bun.spawnSync({ cmd: inNs([runtimeOf(id), "delete", "-f", id]), stdout: "ignore", stderr: "ignore" });
}
function leftovers(): string[] {
  return Object.values(IDS).filter((id) =>
    run([runtimeOf(id), "list", "-q"], { quiet: true }).split("\n").includes(id),
  );
}

const tableOf = (rows: Row[], base: Row, baseName: string) =>
  [
    `| command | mean ms | ± ms | min ms | max ms | vs ${baseName} |`,
    "|---|--:|--:|--:|--:|--:|",
    ...rows.map((r) => `| ${r.name} | ${f(r.mean)} | ${f(r.stddev)} | ${f(r.min)} | ${f(r.max)} | ${f(r.mean / base.mean)}x |`),
  ].join("\n");

/** Detached starts and exec, cbox against crun: their rows and the commands. */
interface DetachedRun {
  rows: Row[];
  shown: string[];
}

function report(rows: Row[], peers: Peer[], phases: Phases | undefined, detached: DetachedRun | undefined): string {
  const byName = (n: string) => rows.find((r) => r.name.startsWith(n));
  const crun = byName("crun")!;
  const runc = byName("runc")!;
  const cbox = rows.find((r) => r.name === "cbox");
  let verdict: string;
  if (!cbox) {
    verdict = "Goal not evaluated: cbox was not measured (BENCH_ONLY_PEERS=1).";
  } else {
    const ratio = cbox.mean / crun.mean;
    const met = ratio <= 1.5 && cbox.mean < runc.mean;
    verdict =
      `Goal ${met ? "met" : "NOT met"}: cbox mean is ${f(ratio)}x crun's ` +
      `(limit 1.50x) and ${f(cbox.mean / runc.mean)}x runc's (must be below 1.00x).`;
  }
  const open = rows.find((r) => r.name === "cbox without seccomp");
  const filterCost =
    cbox && open
      ? `The default seccomp filter (compiled when cbox is built, installed at every start) costs ${f(cbox.mean - open.mean)} ms of cbox's mean (cbox minus cbox without seccomp; ± ${f(Math.hypot(cbox.stddev, open.stddev))} ms).`
      : "";
  const ns = hybrid ? `a private mount namespace with the empty cgroup2 at ${CGROUP2_STUB} unmounted` : "the host mount namespace";
  return [
    "## Container start latency",
    "",
    "Time to start a container running `/bin/true` from a busybox rootfs (read-only root) and wait for it to exit.",
    "",
    tableOf(rows, crun, "crun"),
    "",
    `${machineLine(RUNS)} · every command runs without a shell (\`-N\`) inside ${ns}.`,
    "",
    `Goal: ${GOAL}. ${verdict}`,
    "",
    ...(filterCost ? [filterCost, ""] : []),
    "crun moves its container into its cgroups by writing into cgroup.procs, and the first such move after a quiet spell waits for an RCU grace period (10-15 ms here, seen under strace): most of crun's ± and its slowest runs. On cgroup v1 cbox's container moves itself in through the tasks files, which does not wait (README, Start time).",
    "",
    "Commands (`bun scripts/bench-start.ts`):",
    "",
    ...peers.map((p) => `- ${p.name}: \`${p.shown}\``),
    ...(phases && cbox ? ["", phaseSection(phases, rows, cbox, crun)] : []),
    ...(detached ? ["", detachedSection(detached)] : []),
  ].join("\n");
}

/** Where cbox's time goes, and what of it is Bun's own (the two floor rows of the table). */
function phaseSection(p: Phases, rows: Row[], cbox: Row, crun: Row): string {
  const hello = rows.find((r) => r.name.startsWith("Bun:"));
  const entry = rows.find((r) => r.name.startsWith("cbox --version"));
  const phase = (name: string) => p.phases.find((x) => x.name === name)?.ms ?? 0;
  const kernel = ["clone", "enter cgroup", "child set up and exec", "container ran"].reduce((n, name) => n + phase(name), 0);
  const split: string[] = [];
  if (hello && entry) {
    const loading = entry.mean - hello.mean + phase("load command");
    const own = p.total - phase("main") - phase("load command") - kernel;
    const rest = cbox.mean - hello.mean - loading - kernel - own;
    split.push(
      "Split of cbox's mean, from the rows above and the phases:",
      "",
      "| part | ms | share |",
      "|---|--:|--:|",
      `| Bun starting and exiting (the compiled hello world) | ${f(hello.mean)} | ${pct(hello.mean, cbox.mean)} |`,
      `| loading cbox's code (\`cbox --version\` minus hello, plus "load command") | ${f(loading)} | ${pct(loading, cbox.mean)} |`,
      `| the container's kernel work (clone, enter cgroup, child set up and exec, container ran) | ${f(kernel)} | ${pct(kernel, cbox.mean)} |`,
      `| cbox's own work: the other phases, in JavaScript and on files | ${f(own)} | ${pct(own, cbox.mean)} |`,
      `| the rest: before Bun's clock starts and after the exit call, beyond what the hello world spends there (a larger process to exec and end), and the runs slower than the median | ${f(rest)} | ${pct(rest, cbox.mean)} |`,
      "",
      `crun does its whole start in ${f(crun.mean)} ms; 1.5x is ${f(1.5 * crun.mean)} ms. Bun and the loading of cbox's code alone take ${f(hello.mean + loading)} ms of that budget; with the container's kernel work (${f(kernel)} ms, which crun's start does too) that leaves ${f(1.5 * crun.mean - hello.mean - loading - kernel)} ms for everything cbox does in JavaScript and on files, which takes ${f(own)} ms now.`,
    );
  }
  const helloFs = rows.find((r) => r.name === HELLO_FS);
  if (hello && helloFs) {
    split.push("", `Of Bun's own part, node:fs alone (which every cbox command loads, for its file system calls) costs ${f(helloFs.mean - hello.mean)} ms: the hello world printing through node:fs minus the one printing with console.log.`);
  }
  const floor = rows.find((r) => r.name === FLOOR);
  if (floor) {
    const room = 1.5 * crun.mean - floor.mean;
    split.push(
      "",
      `The floor row is scripts/start-floor.ts, compiled as cbox is: it replays what one \`cbox run --rm\` start does to the kernel and the disk (its folder and files, its cgroups and device rules, the clone with the same flags and setup plan run by the same C shim, the wait, then the cgroups and the copy-on-write folder removed) and does none of cbox's own work: no flags, spec, store, checks or plan building. It takes ${f(floor.mean)} ms, ${f(floor.mean / crun.mean)}x crun's start. Above that floor, 1.5x crun leaves ${f(room)} ms for loading cbox's code and doing all it decides; loading the run command's code alone takes ${f(phase("load command"))} ms ("load command"), and cbox takes ${f(cbox.mean - floor.mean)} ms above the floor now.`,
    );
  }
  return [
    "### Where a start's time goes",
    "",
    `\`CBOX_TIMING=1\` makes cbox write the end of each phase of a start (ms since its process began) on stderr; the median of each phase over ${p.runs} runs of the \`cbox\` command above, one after another as hyperfine runs them:`,
    "",
    phaseTable(p),
    "",
    `The process's wall time (hyperfine's mean, ${f(cbox.mean)} ms) adds what happens before Bun's clock starts (exec of the 110 MB executable, the dynamic loader) and after the exit call.`,
    ...(split.length ? ["", ...split] : []),
  ].join("\n");
}

const pct = (part: number, whole: number) => `${Math.round((100 * part) / whole)}%`;

function detachedSection(d: DetachedRun): string {
  const [cboxD, crunD, cboxX, crunX] = d.rows as [Row, Row, Row, Row];
  return [
    "### Detached start and exec",
    "",
    "`run -d` of `sleep 3600` until the command returns (the previous container removed before each run, untimed), and `exec` of `/bin/true` in a running container.",
    "",
    tableOf([cboxD, crunD], crunD, "crun"),
    "",
    tableOf([cboxX, crunX], crunX, "crun"),
    "",
    `cbox's \`run -d\` is ${f(cboxD.mean / crunD.mean)}x crun's and its \`exec\` ${f(cboxX.mean / crunX.mean)}x (reported, no goal): a detached cbox container also gets its monitor, a process that holds its output and records its end, where crun leaves that to its caller.`,
    "",
    "Commands:",
    "",
    ...d.shown.map((c) => `- \`${c}\``),
  ].join("\n");
}

/**
 * A compiled Bun program that only prints: what every Bun executable costs before its own work;
 * withFs, it prints through node:fs, which every cbox command loads.
 */
function buildHello(dir: string, withFs = false): string {
  const name = withFs ? "hello-fs" : "hello";
  const src = join(dir, `${name}.ts`);
  writeFileSync(src, withFs ? 'import { writeSync } from "node:fs";\nwriteSync(1, "hello\\n");\n' : 'console.log("hello");\n');
  const out = join(dir, name);
  run([process.execPath, "build", "--compile", "--minify", "--bytecode", "--no-compile-autoload-bunfig", "--no-compile-autoload-dotenv", src, "--outfile", out], { quiet: true });
  return out;
}

/**
 * The floor under a cbox start: scripts/start-floor.ts, compiled as cbox is, replaying the kernel
 * and file work of one start of cboxCmd (written down by that start: CBOX_REPLAY_OUT).
 */
function buildFloor(dir: string, cboxCmd: string[]): string[] {
  const out = join(dir, "start-floor");
  const noAutoload = ["--no-compile-autoload-bunfig", "--no-compile-autoload-dotenv", "--no-compile-autoload-tsconfig", "--no-compile-autoload-package-json"];
  run([process.execPath, "build", "--compile", "--minify", "--bytecode", "--compile-jit-policy=100", ...noAutoload, join(import.meta.dir, "start-floor.ts"), "--outfile", out], { quiet: true });
  const replay = join(dir, "replay.json");
  const p = Bun.spawnSync({ cmd: inNs(cboxCmd), env: { ...process.env, CBOX_REPLAY_OUT: replay }, stdout: "ignore", stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`the start to replay failed (exit ${p.exitCode}): ${cboxCmd.join(" ")}`);
  return [out, replay];
}

async function measureDetached(cbox: string, store: string, rootfs: string, tmp: string): Promise<DetachedRun> {
  const bundle = join(tmp, "crun-sleep");
  await makeBundle("crun", bundle, rootfs, ["sleep", "3600"]);
  const cboxRun = [cbox, "run", "-d", "--root", store, "--network", "none", "--rootfs", rootfs];
  // The exec targets, started once.
  startDetached([...cboxRun, "--name", CBOX_NAMES.exec, "sleep", "3600"]);
  startDetached(inNs(["crun", "run", "-d", "-b", bundle, IDS.crunExec]));
  const quietly = (cmd: string[]) => line(["sh", "-c", `${line(cmd)} >/dev/null 2>&1; true`]);
  const benches: Bench[] = [
    { name: "cbox run -d", cmd: line([...cboxRun, "--name", CBOX_NAMES.detached, "sleep", "3600"]), prepare: quietly([cbox, "rm", "-f", "--root", store, CBOX_NAMES.detached]) },
    { name: `crun ${version(["crun", "--version"])} run -d`, cmd: line(["crun", "run", "-d", "-b", bundle, IDS.crunDetached]), prepare: quietly(["crun", "delete", "-f", IDS.crunDetached]) },
    { name: "cbox exec", cmd: line([cbox, "exec", "--root", store, CBOX_NAMES.exec, "/bin/true"]) },
    { name: `crun ${version(["crun", "--version"])} exec`, cmd: line(["crun", "exec", IDS.crunExec, "/bin/true"]) },
  ];
  const rows = await hyperfine(benches, { runs: RUNS, tmp, wrap: inNs });
  return {
    rows,
    shown: [
      `dist/cbox run -d --root STORE --network none --rootfs ROOTFS --name ${CBOX_NAMES.detached} sleep 3600 (before each: dist/cbox rm -f ${CBOX_NAMES.detached})`,
      `crun run -d -b BUNDLE ${IDS.crunDetached} (before each: crun delete -f ${IDS.crunDetached})`,
      `dist/cbox exec --root STORE ${CBOX_NAMES.exec} /bin/true`,
      `crun exec ${IDS.crunExec} /bin/true`,
    ],
  };
}

/** A detached container's process keeps its starter's stdout and stderr: a pipe would never end. */
function startDetached(cmd: string[]): void {
  const p = Bun.spawnSync({ cmd, stdin: "ignore", stdout: "ignore", stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`command failed (exit ${p.exitCode}): ${cmd.join(" ")}`);
}

function removeCboxContainers(cbox: string, store: string) {
  Bun.spawnSync({ cmd: [cbox, "rm", "-f", "--root", store, ...Object.values(CBOX_NAMES)], stdout: "ignore", stderr: "ignore" });
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error("run as root: crun, runc and unshare -m need it");
  ensureTools();
  const cbox = ONLY_PEERS ? null : buildCbox("cbox does not build; run the peers only with BENCH_ONLY_PEERS=1");
  const tmp = mkdtempSync(join(tmpdir(), "cbox-bench-"));
  const store = join(tmp, "cbox-store");
  try {
    const rootfs = buildRootfs(tmp);
    for (const rt of ["crun", "runc"] as const) await makeBundle(rt, join(tmp, rt), rootfs);
    removeContainers();

    const v = (t: string) => version([t, "--version"]);
    const peers: Peer[] = [
      { name: "baseline: busybox true, no container", cmd: [`${rootfs}/bin/busybox`, "true"], shown: "ROOTFS/bin/busybox true" },
      { name: `crun ${v("crun")}`, cmd: ["crun", "run", "-b", join(tmp, "crun"), IDS.crun], shown: `crun run -b BUNDLE ${IDS.crun}` },
      { name: `runc ${v("runc")}`, cmd: ["runc", "run", "-b", join(tmp, "runc"), IDS.runc], shown: `runc run -b BUNDLE ${IDS.runc}` },
      {
        name: `bwrap ${v("bwrap")}`,
        cmd: ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"],
        shown: "bwrap --unshare-all --die-with-parent --ro-bind ROOTFS / --proc /proc --dev /dev /bin/true",
      },
    ];
    let cboxCmd: string[] | undefined;
    if (cbox) {
      // The floor under any Bun program, then cbox's entry code alone.
      peers.push({ name: `Bun: a compiled hello world (Bun ${Bun.version})`, cmd: [buildHello(tmp)], shown: "bun build --compile --minify --bytecode hello.ts; ./hello" });
      peers.push({ name: HELLO_FS, cmd: [buildHello(tmp, true)], shown: "the same, hello.ts printing with node:fs's writeSync" });
      peers.push({ name: "cbox --version", cmd: [cbox, "--version"], shown: "dist/cbox --version" });
      // --network none: the peers' containers get an empty network namespace too (crun's and
      // runc's default specs); bench-net.ts measures the bridge.
      cboxCmd = [cbox, "run", "--rm", "--root", store, "--network", "none", "--rootfs", rootfs, "/bin/true"];
      peers.push({ name: FLOOR, cmd: buildFloor(tmp, cboxCmd), shown: "bun build --compile ... scripts/start-floor.ts; ./start-floor REPLAY (REPLAY: written by one start of the cbox command below, with CBOX_REPLAY_OUT=REPLAY)" });
      peers.push({ name: "cbox", cmd: cboxCmd, shown: "dist/cbox run --rm --root STORE --network none --rootfs ROOTFS /bin/true" });
      // The cost of the default seccomp filter (compiled when cbox is built, installed by the shim).
      peers.push({
        name: "cbox without seccomp",
        cmd: [cbox, "run", "--rm", "--root", store, "--network", "none", "--security-opt", "seccomp=unconfined", "--rootfs", rootfs, "/bin/true"],
        shown: "dist/cbox run --rm --root STORE --network none --security-opt seccomp=unconfined --rootfs ROOTFS /bin/true",
      });
      // Every cbox container gets its cgroups; limits only add writes into them.
      peers.push({
        name: "cbox with limits",
        cmd: [cbox, "run", "--rm", "--root", store, "--network", "none", ...LIMITS, "--rootfs", rootfs, "/bin/true"],
        shown: `dist/cbox run --rm --root STORE --network none ${LIMITS.join(" ")} --rootfs ROOTFS /bin/true`,
      });
    }

    const benches = peers.map((p) => ({ name: p.name, cmd: line(p.cmd) }));
    const rows = await hyperfine(benches, { runs: RUNS, tmp, wrap: inNs });
    const phases = cboxCmd ? measurePhases(inNs(cboxCmd), RUNS) : undefined;
    const detached = cbox ? await measureDetached(cbox, store, rootfs, tmp) : undefined;
    const body = report(rows, peers, phases, detached);
    await writeSection("bench-start", body);
    console.log(`\n${body}\n\nwrote ${OUT}`);
  } finally {
    if (cbox) removeCboxContainers(cbox, store);
    removeContainers();
    const left = leftovers();
    rmSync(tmp, { recursive: true, force: true });
    if (left.length) throw new Error(`containers left behind: ${left.join(", ")}`);
  }
}

await main().catch((e) => {
  console.error(`bench-start: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
