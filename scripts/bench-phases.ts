// Where a cbox start's time goes: the command runs again and again with CBOX_TIMING=1, which makes
// cbox write the end of each phase of its work (ms since the process began, src/timing.ts) on
// stderr; each phase's median over the runs makes the table.
import { ms as f } from "./bench-lib.ts";

export interface Phases {
  /** Each phase and its median length, in cbox's order. */
  phases: { name: string; ms: number }[];
  /** Median of the last mark: from the process's start to its exit call. */
  total: number;
  runs: number;
}

/** What each mark of src/container/run.ts and src/main.ts ends, for a reader of the table. */
const MEANING: Record<string, string> = {
  main: "Bun starts and loads cbox's entry code",
  "load command": "the run command's code is loaded",
  "parse flags": "flags parsed",
  "recover stale containers": "mount table read, cgroup move warmed, store checked for containers a killed cbox left",
  "container spec": "the container's spec: flags checked, image's /etc/passwd and /etc/group read",
  "host checks": "kernel, mount targets, cgroup choice",
  "container folder": "its folder and state.json made",
  "network and /etc files": "network reserved, hosts/hostname/resolv.conf written",
  "create cgroup": "cgroup folders made, device rules written",
  plan: "setup plan built (mounts, devices, capabilities, seccomp filter)",
  clone: "plan encoded, C library loaded, child cloned into its namespaces",
  "enter cgroup": "child moved into its cgroup",
  "maps and network": "user maps and network plugged (none here)",
  "child set up and exec": "child runs its plan (mounts, pivot_root, ...) to execve",
  "record running": "state.json: running",
  "container ran": "/bin/true runs and exits, its namespaces end",
  "clean up": "cgroups, folder and name removed (--rm)",
  exit: "exit",
};

/** Runs cmd (already wrapped as the benchmark runs it) `runs` times; the first 3 warm up. */
export function measurePhases(cmd: string[], runs: number): Phases {
  const rows: [string, number][][] = [];
  for (let i = 0; i < runs + 3; i++) {
    const p = Bun.spawnSync({ cmd, env: { ...process.env, CBOX_TIMING: "1" }, stdout: "ignore", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`command failed (exit ${p.exitCode}): ${cmd.join(" ")}\n${p.stderr}`);
    const line = p.stderr.toString().split("\n").find((l) => l.startsWith('{"timing"'));
    if (!line) throw new Error(`no CBOX_TIMING line from ${cmd.join(" ")}`);
    if (i >= 3) rows.push(JSON.parse(line).timing);
  }
  const names = rows[0]!.map(([name]) => name);
  const phases = names.map((name, i) => ({
    name,
    ms: median(rows.map((r) => (r[i]?.[0] === name ? r[i]![1] - (i > 0 ? r[i - 1]![1] : 0) : NaN)).filter((x) => !Number.isNaN(x))),
  }));
  return { phases, total: median(rows.map((r) => r.at(-1)![1])), runs };
}

export function phaseTable(p: Phases): string {
  return [
    "| phase | median ms | what |",
    "|---|--:|---|",
    ...p.phases.map((ph) => `| ${ph.name} | ${f(ph.ms)} | ${MEANING[ph.name] ?? ""} |`),
    `| **to exit** | **${f(p.total)}** | |`,
  ].join("\n");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
