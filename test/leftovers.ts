// Loaded before every test file (bunfig.toml): no process a test started may outlive it, even
// when an assertion failed before the test's own clean-up. After each test, the processes that
// were not there before it and are either descendants of this test process or carry its mark
// (CBOX_TEST_RUN in their environment: a detached container's monitor, which cbox forks and
// leaves, keeps it) get a grace period to end; then SIGKILL (a container dies with its cbox or
// monitor: PR_SET_PDEATHSIG), the storage roots they named are recovered with `cbox ps -a`
// (cgroups, addresses, --rm folders), and the test fails, naming them.
import { afterEach, beforeEach } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const GRACE_MS = 3000;
const cboxBin = join(import.meta.dir, "../dist/cbox");
/** The mark; test/integration/helpers.ts puts it in the environment it gives cbox. */
export const TEST_RUN_MARK = `CBOX_TEST_RUN=${process.pid}`;
process.env.CBOX_TEST_RUN = String(process.pid);

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * Live processes that are this test run's: descendants, or marked. What descends from a process
 * in `known` is left out: it belongs to that process (a server a beforeAll started forks later).
 */
function ours(known = new Set<number>()): Set<number> {
  const parent = new Map<number, number>();
  const marked: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (!stat || fields[0] === "Z") continue;
    parent.set(Number(name), Number(fields[1]));
    if (read(`/proc/${name}/environ`).split("\0").includes(TEST_RUN_MARK)) marked.push(Number(name));
  }
  const found = new Set<number>(marked.filter((pid) => !known.has(pid)));
  found.delete(process.pid);
  let frontier = [process.pid];
  while (frontier.length) {
    const next = [...parent].filter(([pid, ppid]) => frontier.includes(ppid) && !found.has(pid) && !known.has(pid)).map(([pid]) => pid);
    for (const pid of next) found.add(pid);
    frontier = next;
  }
  return found;
}

function describeProcess(pid: number): { text: string; uid: string; gid: string; root?: string } {
  const argv = read(`/proc/${pid}/cmdline`).split("\0").filter(Boolean);
  const status = read(`/proc/${pid}/status`);
  const id = (field: string) => new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? "0";
  const rootAt = argv.indexOf("--root");
  return { text: `${pid} ${argv.join(" ") || "(ended)"}`, uid: id("Uid"), gid: id("Gid"), root: rootAt >= 0 ? argv[rootAt + 1] : undefined };
}

let before = new Set<number>();

beforeEach(() => {
  before = ours();
});

afterEach(async () => {
  const left = () => [...ours(before)];
  let pids = left();
  for (let waited = 0; pids.length && waited < GRACE_MS; waited += 50) {
    await Bun.sleep(50);
    pids = left();
  }
  if (!pids.length) return;
  const seen = pids.map(describeProcess);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < 100 && left().length; i++) await Bun.sleep(20);
  // The next cbox command of a storage root records what was killed and removes what it made.
  for (const { root, uid, gid } of seen) {
    if (!root || !existsSync(root) || !existsSync(cboxBin)) continue;
    const as = uid === "0" ? [] : ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"];
    Bun.spawnSync([...as, cboxBin, "ps", "-a", "--root", root], { stdout: "ignore", stderr: "ignore" });
  }
  throw new Error(`the test left processes running (killed now):\n${seen.map((s) => `  ${s.text}`).join("\n")}`);
});
