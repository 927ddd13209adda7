// Runs the OCI runtime-tools validation suite (a built checkout: runtimetest, rootfs-ARCH.tar.gz and
// validation/**/*.t) against one or more runtimes and writes a pass-count table between
// <!-- oci-validation:begin --> and <!-- oci-validation:end --> in the out file. Needs root.
//
//   bun scripts/oci-validation.ts --suite DIR --runtime NAME=PATH [--runtime NAME=PATH ...]
//       [--out COMPAT.md] [--raw /tmp/oci-validation-raw] [--timeout 60]
//
// Each program's stdout (TAP) and stderr go to RAW/NAME/PROGRAM.{tap,stderr}.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

const REPO = resolve(import.meta.dir, "..");
const CGROUP2_STUB = "/sys/fs/cgroup/unified";
// Ids the suite gives its containers (uuid.NewString()); only new ones are ever removed.
const SUITE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// cgroups the suite asks for (runtime-tools cgroups.AbsCgroupPath and RelCgroupPath); runtimes
// remove the leaf on delete but leave the parents of the relative one behind.
const SUITE_CGROUPS = ["testdir/cgrouptest/container", "testdir/cgrouptest", "testdir", "cgrouptest"];

/** Programs that print nothing when the runtime does what they check. */
const SILENT_ON_SUCCESS = /^(prestart|poststart|poststop|hooks)$|_fail$/;

type Runtime = { name: string; path: string; version: string; seconds: number };
type Result = { passed: number; total: number; skipped: number; silent: boolean; problem?: string };

function usage(msg: string): never {
  console.error(`${msg}\nusage: bun scripts/oci-validation.ts --suite DIR --runtime NAME=PATH [--runtime NAME=PATH ...] [--out COMPAT.md] [--raw DIR] [--timeout SECONDS]`);
  process.exit(2);
}

const { values: opts } = parseArgs({
  options: {
    suite: { type: "string" },
    runtime: { type: "string", multiple: true },
    out: { type: "string", default: join(REPO, "COMPAT.md") },
    raw: { type: "string", default: "/tmp/oci-validation-raw" },
    timeout: { type: "string", default: "60" },
  },
});
if (!opts.suite) usage("--suite is required");
if (!opts.runtime?.length) usage("at least one --runtime is required");
if (process.getuid?.() !== 0) usage("the suite creates containers and cgroups: run as root");
const suite = resolve(opts.suite);
const timeout = Number(opts.timeout);
if (!(timeout > 0)) usage(`bad --timeout: ${opts.timeout}`);

const goArch = ({ x64: "amd64", arm64: "arm64", ia32: "386", ppc64: "ppc64le", s390x: "s390x" } as Record<string, string>)[process.arch] ?? process.arch;
for (const f of ["runtimetest", `rootfs-${goArch}.tar.gz`])
  if (!existsSync(join(suite, f))) usage(`${join(suite, f)} is missing: build the suite first (make runtimetest validation-executables)`);

const programs = findPrograms(join(suite, "validation"));
if (programs.length === 0) usage(`no validation/**/*.t in ${suite}: run make validation-executables there`);

const runtimes: Runtime[] = opts.runtime.map((spec) => {
  const [name, given] = spec.includes("=") ? [spec.slice(0, spec.indexOf("=")), spec.slice(spec.indexOf("=") + 1)] : [basename(spec), spec];
  const path = given.includes("/") ? resolve(given) : Bun.which(given);
  if (!name || !path || !existsSync(path)) usage(`runtime not found: ${spec}`);
  return { name, path, version: firstLine(path, ["--version"]) ?? "(no --version)", seconds: 0 };
});

// Every program and runtime command runs in a private mount namespace. It keeps mounts from
// escaping to the host (with runc, linux_ns_itype leaves the container's /proc, /sys and /dev
// mounted over its bundle), and lets the empty cgroup2 mounted beside the v1 controllers be
// removed: crun refuses that "hybrid mode" and fails every container.
const inNs = (cmd: string[]) => ["unshare", "-m", "sh", "-c", `umount ${CGROUP2_STUB} 2>/dev/null; exec "$@"`, "sh", ...cmd];

const scratch = mkdtempSync("/tmp/oci-validation-");
chmodSync(scratch, 0o755);
const cgroupsBefore = new Set(suiteCgroups());
const results = new Map<string, Map<string, Result>>(); // program -> runtime -> result
let running: Bun.Subprocess | null = null;
let interrupted = false;
// Ctrl-C stops the current program; the loop below then cleans up after it and stops.
process.on("SIGINT", () => {
  interrupted = true;
  running?.kill("SIGTERM"); // timeout(1) passes it on to the program's process group
});

for (const rt of runtimes) {
  const rawDir = join(opts.raw, rt.name);
  mkdirSync(rawDir, { recursive: true });
  const start = performance.now();
  for (const prog of programs) {
    const name = programName(prog);
    const r = await runProgram(rt, prog, join(rawDir, name));
    if (!results.has(name)) results.set(name, new Map());
    results.get(name)!.set(rt.name, r);
    console.log(`${rt.name.padEnd(8)} ${name.padEnd(34)} ${cell(r)}${r.problem ? `  (${r.problem})` : ""}`);
    if (interrupted) break;
  }
  rt.seconds = Math.round((performance.now() - start) / 1000);
  if (interrupted) break;
}
for (const dir of suiteCgroups()) if (!cgroupsBefore.has(dir)) tryRmdir(dir);
rmSync(scratch, { recursive: true, force: true });
if (interrupted) {
  console.error("interrupted: nothing written");
  process.exit(130);
}

const section = report();
writeSection(resolve(opts.out), section);
console.log(`\n${section}\n\nwrote ${resolve(opts.out)}; raw output under ${resolve(opts.raw)}`);

function findPrograms(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (entry.endsWith(".t")) found.push(path);
    else if (entry !== "util" && statSync(path).isDirectory())
      found.push(...readdirSync(path).filter((f) => f.endsWith(".t")).sort().map((f) => join(path, f)));
  }
  return found;
}

// validation/default/default.t and validation/default.t are both "default".
function programName(prog: string): string {
  return basename(prog, ".t");
}

function firstLine(cmd: string, args: string[]): string | undefined {
  const p = Bun.spawnSync({ cmd: [cmd, ...args], stdout: "pipe", stderr: "pipe" });
  return p.exitCode === 0 ? p.stdout.toString().split("\n")[0].trim() || undefined : undefined;
}

async function runProgram(rt: Runtime, prog: string, rawBase: string): Promise<Result> {
  // The suite unpacks each bundle with os.MkdirTemp: a TMPDIR per program makes its leftovers ours.
  // Mode 755 like /tmp, or the mapped root of the user-namespace programs cannot reach its rootfs.
  const tmp = mkdtempSync(join(scratch, "tmp-"));
  chmodSync(tmp, 0o755);
  const before = containerIds(rt);
  const [tap, stderr] = [`${rawBase}.tap`, `${rawBase}.stderr`];
  // timeout(1) signals the whole process group, so runtime children of a hung program go too.
  // The program is run from the suite dir: it reads ./runtimetest and ./rootfs-ARCH.tar.gz.
  const child = Bun.spawn({
    cmd: ["timeout", "-k", "5", String(timeout), ...inNs([join(".", relative(suite, prog))])],
    cwd: suite,
    env: { ...process.env, RUNTIME: rt.path, TMPDIR: tmp },
    stdin: "ignore",
    // Files, not pipes: a container that inherits stdout must not keep us waiting.
    stdout: Bun.file(tap),
    stderr: Bun.file(stderr),
  });
  running = child;
  const started = performance.now();
  const code = await child.exited;
  const timedOut = (code === 124 || code === 137) && performance.now() - started >= timeout * 1000;
  running = null;
  const leftovers = cleanUp(rt, before, tmp);
  const note = leftovers ? `removed ${leftovers} leftover container(s)` : undefined;

  const t = parseTap(readFileSync(tap, "utf8"));
  const problem = timedOut
    ? `timed out after ${timeout} s`
    : code !== 0
      ? `exit ${code ?? child.signalCode}: ${reason(readFileSync(stderr, "utf8"))}`
      : t.passed + t.failed + t.todo === 0 ? t.error : undefined;
  // Lifecycle programs (hooks, prestart_fail, ...) print no test points: only a YAML "error"
  // when the runtime misbehaves, and nothing otherwise. The *_fail programs print nothing at all.
  // Any other program prints its container's test output: nothing there is a failure.
  if (!problem && t.passed + t.failed + t.todo === 0) {
    if (SILENT_ON_SUCCESS.test(programName(prog))) return { passed: 1, total: 1, skipped: 0, silent: true, problem: note };
    return { passed: 0, total: 1, skipped: 0, silent: false, problem: ["no test output: the container printed nothing", note].filter(Boolean).join("; ") };
  }
  const ran = t.passed + t.failed + t.todo;
  const shortfall = t.planned > ran ? `planned ${t.planned}, ran ${ran}` : undefined;
  return {
    passed: t.passed,
    total: t.passed + t.failed + (problem ? 1 : 0),
    skipped: t.skipped,
    silent: false,
    problem: [problem, shortfall, note].filter(Boolean).join("; ") || undefined,
  };
}

// TAP from tap-go: "ok N - desc", "not ok N - desc", "ok N # SKIP desc", "not ok N # TODO desc",
// "1..N", and indented YAML blocks (which hold nested output of runtimetest, so only column-0
// lines count). Some programs print several TAP documents; their plans add up.
function parseTap(text: string) {
  let passed = 0, failed = 0, skipped = 0, todo = 0, planned = 0;
  for (const line of text.split("\n")) {
    const point = /^(not )?ok\b(?:\s+\d+)?(?:\s*-?\s*)(.*)$/.exec(line);
    if (point) {
      if (/#\s*todo\b/i.test(point[2])) todo++; // expected failures: counted neither way
      else if (point[1]) failed++;
      else {
        passed++;
        if (/#\s*skip\b/i.test(point[2])) skipped++;
      }
      continue;
    }
    const plan = /^1\.\.(\d+)/.exec(line);
    if (plan) planned += Number(plan[1]);
  }
  const error = /^\s*"error": ("(?:[^"\\]|\\.)*")/m.exec(text);
  return { passed, failed, skipped, todo, planned, error: error ? `reported: ${(JSON.parse(error[1]) as string).split("\n")[0]}` : undefined };
}

// The first stderr line that says something: not the suite's "failed to create the container"
// or Go's "exit status 1"; for a logrus line from runc, its msg.
function reason(stderr: string): string {
  const line = stderr.split("\n").map((l) => l.trim()).find((l) => l && !/^(failed to \w+ the container|exit status \d+)$/.test(l)) ?? "no output";
  const msg = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line);
  return (msg ? msg[1].replaceAll('\\"', '"') : line).slice(0, 200);
}

// Ids from `PATH list -q`, or the first column of `PATH list`; null if the runtime has no list.
function containerIds(rt: Runtime): string[] | null {
  for (const args of [["list", "-q"], ["list"]]) {
    const p = Bun.spawnSync({ cmd: inNs([rt.path, ...args]), stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) continue;
    const lines = p.stdout.toString().split("\n").filter((l) => l.trim());
    return args.length === 2 ? lines.map((l) => l.trim()) : lines.slice(1).map((l) => l.trim().split(/\s+/)[0]);
  }
  return null;
}

// Deletes containers the program created and left behind, then its TMPDIR. Returns how many.
function cleanUp(rt: Runtime, before: string[] | null, tmp: string): number {
  let removed = 0;
  if (before) {
    const left = (containerIds(rt) ?? []).filter((id) => SUITE_ID.test(id) && !before.includes(id));
    for (const id of left) {
      const forced = Bun.spawnSync({ cmd: inNs([rt.path, "delete", "-f", id]), stdout: "ignore", stderr: "ignore" });
      if (forced.exitCode !== 0) {
        Bun.spawnSync({ cmd: inNs([rt.path, "kill", id, "KILL"]), stdout: "ignore", stderr: "ignore" });
        Bun.sleepSync(1000);
        Bun.spawnSync({ cmd: inNs([rt.path, "delete", id]), stdout: "ignore", stderr: "ignore" });
      }
      removed++;
    }
  }
  // A recursive delete through a mounted /proc or /sys would be a disaster: never follow one.
  const mounted = readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4]?.startsWith(`${tmp}/`));
  if (mounted) console.warn(`leaving ${tmp}: something is still mounted under it`);
  else rmSync(tmp, { recursive: true, force: true });
  return removed;
}

// The suite's cgroups in every mounted hierarchy, deepest first.
function suiteCgroups(): string[] {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => / - cgroup2? /.test(l)).map((l) => l.split(" ")[4]);
  return mounts.flatMap((m) => SUITE_CGROUPS.map((c) => join(m, c))).filter((d) => existsSync(d));
}

function tryRmdir(dir: string) {
  try {
    rmdirSync(dir); // only empty cgroups without processes can go
  } catch {}
}

function cell(r: Result): string {
  return `${r.passed}/${r.total}${r.silent ? "*" : ""}${r.skipped ? ` (${r.skipped} skip)` : ""}`;
}

function suiteCommit(): string {
  try {
    const head = readFileSync(join(suite, ".git/HEAD"), "utf8").trim();
    if (!head.startsWith("ref: ")) return head;
    const ref = head.slice(5);
    if (existsSync(join(suite, ".git", ref))) return readFileSync(join(suite, ".git", ref), "utf8").trim();
    const packed = readFileSync(join(suite, ".git/packed-refs"), "utf8").split("\n").find((l) => l.endsWith(` ${ref}`));
    return packed?.split(" ")[0] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function report(): string {
  const version = existsSync(join(suite, "VERSION")) ? ` ${readFileSync(join(suite, "VERSION"), "utf8").trim()}` : "";
  const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const total = (rt: Runtime) => {
    const rs = [...results.values()].map((m) => m.get(rt.name)!);
    return `**${rs.reduce((n, r) => n + r.passed, 0)}/${rs.reduce((n, r) => n + r.total, 0)}**`;
  };
  const problems = [...results].flatMap(([prog, m]) => runtimes.filter((rt) => m.get(rt.name)!.problem).map((rt) => `- ${rt.name} · ${prog}: ${esc(m.get(rt.name)!.problem!)}`));
  return [
    "### Results of the last run",
    "",
    `[runtime-tools](https://github.com/opencontainers/runtime-tools)${version} validation suite at commit \`${suiteCommit()}\`, ` +
      `run ${new Date().toISOString().slice(0, 10)} on kernel ${release()} as root, ${timeout} s per program, each in a private mount namespace.`,
    "",
    ...runtimes.map((rt) => `- ${rt.name}: \`${rt.version}\` (${rt.seconds} s for the suite)`),
    "",
    `| program | ${runtimes.map((rt) => rt.name).join(" | ")} |`,
    `|---|${runtimes.map(() => "--:").join("|")}|`,
    ...[...results].map(([prog, m]) => `| ${prog} | ${runtimes.map((rt) => cell(m.get(rt.name)!)).join(" | ")} |`),
    `| **total** | ${runtimes.map(total).join(" | ")} |`,
    "",
    "Cells are passed/total test points; skipped points count as passed. A program that exits",
    "non-zero, times out or reports an error without test points adds one failure, listed below.",
    "\\* the program printed no test points and exited 0, which is how it reports success.",
    ...(problems.length ? ["", ...problems] : []),
  ].join("\n");
}

// Replaces only the marked section of the file, appending it (or creating the file) if absent.
function writeSection(path: string, body: string) {
  const [begin, end] = ["<!-- oci-validation:begin -->", "<!-- oci-validation:end -->"];
  const section = `${begin}\n${body}\n${end}`;
  let text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) text = text.slice(0, a) + section + text.slice(b + end.length);
  else text = text.trim() ? `${text.trimEnd()}\n\n${section}\n` : `${section}\n`;
  writeFileSync(path, text);
}
