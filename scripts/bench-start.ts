// Container start latency: cbox vs crun, runc and bubblewrap, timed by hyperfine.
// Writes its own section of BENCHMARKS.md and prints the table.
//
//   bun scripts/bench-start.ts
//
// Env: BENCH_RUNS (default 50), BENCH_ROOTFS (use this rootfs instead of building one),
//      BENCH_NO_BUILD=1 (reuse dist/cbox), BENCH_ONLY_PEERS=1 (skip cbox).
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OUT, type Row, buildCbox, hyperfine, line, machineLine, ms as f, run, version, writeSection, buildRootfs } from "./bench-lib.ts";

const GOAL = "cbox within 1.5x of crun's mean start time and faster than runc";
const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const ONLY_PEERS = process.env.BENCH_ONLY_PEERS === "1";
const CGROUP2_STUB = "/sys/fs/cgroup/unified";
const LIMITS = ["--memory", "64m", "--cpus", "1", "--pids-limit", "100"];
const IDS = { crun: "cbox-bench-crun", runc: "cbox-bench-runc" };

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
async function makeBundle(runtime: "crun" | "runc", dir: string, rootfs: string) {
  mkdirSync(dir, { recursive: true });
  run([runtime, "spec"], { cwd: dir, quiet: true });
  const path = join(dir, "config.json");
  const spec = await Bun.file(path).json();
  spec.process.args = ["/bin/true"];
  spec.process.terminal = false;
  spec.root = { path: rootfs, readonly: true };
  spec.hostname = "bench";
  await Bun.write(path, JSON.stringify(spec, null, 2));
}

// `crun run` / `runc run` (without --detach) delete the container once its process exits,
// so a fixed id can be reused run after run. This only removes leftovers of an interrupted run.
function removeContainers() {
  for (const [rt, id] of Object.entries(IDS))
    Bun.spawnSync({ cmd: inNs([rt, "delete", "-f", id]), stdout: "ignore", stderr: "ignore" });
}
function leftovers(): string[] {
  return Object.entries(IDS).filter(([rt, id]) =>
    run([rt, "list", "-q"], { quiet: true }).split("\n").includes(id),
  ).map(([, id]) => id);
}

function report(rows: Row[], peers: Peer[]): string {
  const byName = (n: string) => rows.find((r) => r.name.startsWith(n));
  const crun = byName("crun")!;
  const runc = byName("runc")!;
  const cbox = rows.find((r) => r.name === "cbox");
  const table = [
    "| command | mean ms | ± ms | min ms | max ms | vs crun |",
    "|---|--:|--:|--:|--:|--:|",
    ...rows.map(
      (r) => `| ${r.name} | ${f(r.mean)} | ${f(r.stddev)} | ${f(r.min)} | ${f(r.max)} | ${f(r.mean / crun.mean)}x |`,
    ),
  ].join("\n");
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
      ? `The default seccomp filter (built and installed at every start) costs ${f(cbox.mean - open.mean)} ms of cbox's mean (cbox minus cbox without seccomp; ± ${f(Math.hypot(cbox.stddev, open.stddev))} ms).`
      : "";
  const ns = hybrid ? `a private mount namespace with the empty cgroup2 at ${CGROUP2_STUB} unmounted` : "the host mount namespace";
  return [
    "## Container start latency",
    "",
    "Time to start a container running `/bin/true` from a busybox rootfs (read-only root) and wait for it to exit.",
    "",
    table,
    "",
    `${machineLine(RUNS)} · every command runs without a shell (\`-N\`) inside ${ns}.`,
    "",
    `Goal: ${GOAL}. ${verdict}`,
    "",
    ...(filterCost ? [filterCost, ""] : []),
    "Commands (`bun scripts/bench-start.ts`):",
    "",
    ...peers.map((p) => `- ${p.name}: \`${p.shown}\``),
  ].join("\n");
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error("run as root: crun, runc and unshare -m need it");
  ensureTools();
  const cbox = ONLY_PEERS ? null : buildCbox("cbox does not build; run the peers only with BENCH_ONLY_PEERS=1");
  const tmp = mkdtempSync(join(tmpdir(), "cbox-bench-"));
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
    if (cbox) {
      const store = join(tmp, "cbox-store");
      // --network none: the peers' containers get an empty network namespace too (crun's and
      // runc's default specs); bench-net.ts measures the bridge.
      peers.push({
        name: "cbox",
        cmd: [cbox, "run", "--rm", "--root", store, "--network", "none", "--rootfs", rootfs, "/bin/true"],
        shown: "dist/cbox run --rm --root STORE --network none --rootfs ROOTFS /bin/true",
      });
      // The cost of the default seccomp filter (built in TypeScript, installed by the shim).
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
    const body = report(await hyperfine(benches, { runs: RUNS, tmp, wrap: inNs }), peers);
    await writeSection("bench-start", body);
    console.log(`\n${body}\n\nwrote ${OUT}`);
  } finally {
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
