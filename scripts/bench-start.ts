// Container start latency: cbox vs crun, runc and bubblewrap, timed by hyperfine.
// Writes its own section of BENCHMARKS.md and prints the table.
//
//   bun scripts/bench-start.ts
//
// Env: BENCH_RUNS (default 50), BENCH_ROOTFS (use this rootfs instead of building one),
//      BENCH_NO_BUILD=1 (reuse dist/cbox), BENCH_ONLY_PEERS=1 (skip cbox).
import { mkdtempSync, rmSync, mkdirSync, existsSync, readFileSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "..");
const OUT = join(REPO, "BENCHMARKS.md");
const BEGIN = "<!-- bench-start:begin -->";
const END = "<!-- bench-start:end -->";
const GOAL = "cbox within 1.5x of crun's mean start time and faster than runc";
const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const ONLY_PEERS = process.env.BENCH_ONLY_PEERS === "1";
const CGROUP2_STUB = "/sys/fs/cgroup/unified";
const IDS = { crun: "cbox-bench-crun", runc: "cbox-bench-runc" };

type Peer = { name: string; cmd: string[]; shown: string };
type Row = { name: string; mean: number; stddev: number; min: number; max: number };

function run(cmd: string[], opts: { quiet?: boolean; cwd?: string } = {}): string {
  const p = Bun.spawnSync({
    cmd,
    cwd: opts.cwd ?? REPO,
    stdout: opts.quiet ? "pipe" : "inherit",
    stderr: opts.quiet ? "pipe" : "inherit",
  });
  if (p.exitCode !== 0) {
    const err = opts.quiet ? `\n${p.stderr.toString().trim()}` : "";
    throw new Error(`command failed (exit ${p.exitCode}): ${cmd.join(" ")}${err}`);
  }
  return opts.quiet ? p.stdout.toString() : "";
}

// crun refuses cgroups when an empty cgroup2 is mounted next to v1 controllers ("hybrid mode").
// Every peer therefore runs inside a private mount namespace with that mount removed.
const hybrid = readFileSync("/proc/self/mountinfo", "utf8")
  .split("\n")
  .some((l) => l.split(" ")[4] === CGROUP2_STUB);
function inNs(cmd: string[]): string[] {
  if (!hybrid) return cmd;
  return ["unshare", "-m", "sh", "-c", `umount ${CGROUP2_STUB} 2>/dev/null; exec "$@"`, "sh", ...cmd];
}

// hyperfine -N splits command lines like a POSIX shell, so quote every word.
const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);
const line = (cmd: string[]) => cmd.map(q).join(" ");

function ensureTools() {
  const missing = ["crun", "runc", "bwrap", "hyperfine", "unshare"].filter((t) => !Bun.which(t));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new Error(`missing tools: ${missing.join(", ")}; install with: apt-get install -y crun runc bubblewrap hyperfine`);
  console.log(`installing missing tools: ${missing.join(", ")}`);
  run(["apt-get", "install", "-y", "crun", "runc", "bubblewrap", "hyperfine"]);
}

function buildRootfs(tmp: string): string {
  const given = process.env.BENCH_ROOTFS;
  if (given && existsSync(join(given, "bin/busybox"))) return resolve(given);
  if (given) console.warn(`BENCH_ROOTFS=${given} has no bin/busybox; building a rootfs instead`);
  const dir = join(tmp, "rootfs");
  run(["sh", "rootfs/build.sh", dir]);
  return dir;
}

function buildCbox(): string {
  const bin = join(REPO, "dist/cbox");
  if (!(existsSync(bin) && process.env.BENCH_NO_BUILD === "1")) {
    try {
      run(["npm", "run", "build"]);
    } catch (e) {
      throw new Error(`${(e as Error).message}\ncbox does not build; run the peers only with BENCH_ONLY_PEERS=1`);
    }
  }
  if (!existsSync(bin)) throw new Error("npm run build did not produce dist/cbox");
  return bin;
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

function version(cmd: string[]): string {
  return run(cmd, { quiet: true }).match(/\d+\.\d+(\.\d+)?/)?.[0] ?? "?";
}

async function hyperfine(peers: Peer[], tmp: string): Promise<Row[]> {
  const json = join(tmp, "hyperfine.json");
  const args = ["hyperfine", "-N", "--warmup", "5", "--runs", String(RUNS), "--export-json", json];
  for (const p of peers) args.push("-n", p.name, line(p.cmd));
  run(inNs(args));
  const { results } = await Bun.file(json).json();
  return results.map((r: any, i: number) => ({
    name: peers[i].name,
    mean: r.mean * 1000,
    stddev: r.stddev * 1000,
    min: r.min * 1000,
    max: r.max * 1000,
  }));
}

function report(rows: Row[], peers: Peer[]): string {
  const byName = (n: string) => rows.find((r) => r.name.startsWith(n));
  const crun = byName("crun")!;
  const runc = byName("runc")!;
  const cbox = byName("cbox");
  const f = (n: number) => n.toFixed(2);
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
  const cpu = cpus();
  const ns = hybrid ? `a private mount namespace with the empty cgroup2 at ${CGROUP2_STUB} unmounted` : "the host mount namespace";
  return [
    "## Container start latency",
    "",
    "Time to start a container running `/bin/true` from a busybox rootfs (read-only root) and wait for it to exit.",
    "",
    table,
    "",
    `${new Date().toISOString().slice(0, 10)} · kernel ${run(["uname", "-r"], { quiet: true }).trim()} · ` +
      `${cpu.length} CPUs (${cpu[0]?.model.trim() ?? "?"}) · hyperfine ${version(["hyperfine", "--version"])} · ` +
      `${RUNS} runs after 5 warmups · every command runs without a shell (\`-N\`) inside ${ns}.`,
    "",
    `Goal: ${GOAL}. ${verdict}`,
    "",
    "Commands (`bun scripts/bench-start.ts`):",
    "",
    ...peers.map((p) => `- ${p.name}: \`${p.shown}\``),
  ].join("\n");
}

async function writeSection(body: string) {
  const section = `${BEGIN}\n${body}\n${END}`;
  const file = Bun.file(OUT);
  let text = (await file.exists()) ? await file.text() : "# Benchmarks\n";
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a >= 0 && b > a) text = text.slice(0, a) + section + text.slice(b + END.length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  await Bun.write(OUT, text);
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error("run as root: crun, runc and unshare -m need it");
  ensureTools();
  const cbox = ONLY_PEERS ? null : buildCbox();
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
    if (cbox)
      peers.push({
        name: "cbox",
        cmd: [cbox, "run", "--rm", "--root", join(tmp, "cbox-store"), "--rootfs", rootfs, "/bin/true"],
        shown: "dist/cbox run --rm --root STORE --rootfs ROOTFS /bin/true",
      });

    const body = report(await hyperfine(peers, tmp), peers);
    await writeSection(body);
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
