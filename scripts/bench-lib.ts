// Shared by the benchmark scripts: running commands, timing them with hyperfine,
// the machine line under each table, and each script's own section of BENCHMARKS.md.
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "..");
export const OUT = join(REPO, "BENCHMARKS.md");

export type Bench = { name: string; cmd: string; prepare?: string }; // cmd and prepare: command lines
export type Row = { name: string; mean: number; stddev: number; min: number; max: number }; // ms

export function run(cmd: string[], opts: { quiet?: boolean; cwd?: string } = {}): string {
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

// Both hyperfine -N and sh split command lines like a POSIX shell, so quote every word.
export const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);
export const line = (cmd: string[]) => cmd.map(q).join(" ");

export function version(cmd: string[]): string {
  return run(cmd, { quiet: true }).match(/\d+\.\d+(\.\d+)?/)?.[0] ?? "?";
}

// dist/cbox, built with `npm run build` unless BENCH_NO_BUILD=1 and it exists.
export function buildCbox(hint = ""): string {
  const bin = join(REPO, "dist/cbox");
  if (!(existsSync(bin) && process.env.BENCH_NO_BUILD === "1")) {
    try {
      run(["npm", "run", "build"]);
    } catch (e) {
      throw new Error(`${(e as Error).message}${hint ? `\n${hint}` : ""}`);
    }
  }
  if (!existsSync(bin)) throw new Error("npm run build did not produce dist/cbox");
  return bin;
}

/** BENCH_ROOTFS when it holds a busybox rootfs, else one built with rootfs/build.sh under tmp. */
export function buildRootfs(tmp: string): string {
  const given = process.env.BENCH_ROOTFS;
  if (given && existsSync(join(given, "bin/busybox"))) return resolve(given);
  if (given) console.warn(`BENCH_ROOTFS=${given} has no bin/busybox; building a rootfs instead`);
  const dir = join(tmp, "rootfs");
  run(["sh", "rootfs/build.sh", dir]);
  return dir;
}

export type HyperfineOpts = {
  runs: number;
  tmp: string; // where the JSON export goes
  warmup?: number; // default 5
  shell?: boolean; // run commands in hyperfine's default shell (needed for pipes) instead of -N
  wrap?: (cmd: string[]) => string[]; // e.g. run hyperfine itself inside a namespace
};

// Spawned asynchronously, so a server in this process keeps answering while hyperfine runs.
export async function hyperfine(benches: Bench[], opts: HyperfineOpts): Promise<Row[]> {
  const json = join(opts.tmp, "hyperfine.json");
  const args = ["hyperfine", ...(opts.shell ? [] : ["-N"]), "--warmup", String(opts.warmup ?? 5), "--runs", String(opts.runs), "--export-json", json];
  // --prepare is given either never or once per command; `true` stands in where none is needed.
  if (benches.some((b) => b.prepare)) for (const b of benches) args.push("--prepare", b.prepare ?? "true");
  for (const b of benches) args.push("-n", b.name, b.cmd);
  const cmd = opts.wrap ? opts.wrap(args) : args;
  const p = Bun.spawn({ cmd, cwd: REPO, stdout: "inherit", stderr: "inherit" });
  const code = await p.exited;
  if (code !== 0) throw new Error(`command failed (exit ${code}): ${cmd.join(" ")}`);
  const { results } = await Bun.file(json).json();
  return results.map((r: any, i: number) => ({
    name: benches[i].name,
    mean: r.mean * 1000,
    stddev: r.stddev * 1000,
    min: r.min * 1000,
    max: r.max * 1000,
  }));
}

export const ms = (n: number) => n.toFixed(2);

// "date · kernel · CPUs · hyperfine version · runs"; callers append how the commands ran.
export function machineLine(runs: number, warmup = 5): string {
  const cpu = cpus();
  return (
    `${new Date().toISOString().slice(0, 10)} · kernel ${run(["uname", "-r"], { quiet: true }).trim()} · ` +
    `${cpu.length} CPUs (${cpu[0]?.model.trim() ?? "?"}) · hyperfine ${version(["hyperfine", "--version"])} · ` +
    `${runs} runs after ${warmup} warmups`
  );
}

// Replaces only <!-- KEY:begin --> ... <!-- KEY:end --> in BENCHMARKS.md, appending it if absent.
export async function writeSection(key: string, body: string) {
  const [begin, end] = [`<!-- ${key}:begin -->`, `<!-- ${key}:end -->`];
  const section = `${begin}\n${body}\n${end}`;
  const file = Bun.file(OUT);
  let text = (await file.exists()) ? await file.text() : "# Benchmarks\n";
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) text = text.slice(0, a) + section + text.slice(b + end.length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  await Bun.write(OUT, text);
}
