// cbox info on this host, as root and as an ordinary user, in text and JSON. Every expectation is
// computed from the host with other tools (util-linux's unshare, setpriv, df, the mount table),
// never written down for this machine.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { asUser, buildRootfs, cboxBin, hostMounts, isRoot, removeDir, tempDir, treeListing, type Result, type RunAs } from "./helpers.ts";

const USER = "cbox-info-t";
const SUB_START = 3000000;
const PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin`;
/** test/leftovers.ts finds what this run started by this mark. */
const MARK = { CBOX_TEST_RUN: process.env.CBOX_TEST_RUN ?? "" };
const CHECK_LINE = /^(ok|warn|missing) +(\S(?:.*?\S)?) {2,}(\S.*)$/;

let work = "";
let rootfs = "";
let user: RunAs = { uid: -1, gid: -1, home: "" };
const saved = new Map<string, string | undefined>();

/** dist/cbox may be being rebuilt by another build: wait (a minute at most) for it to be back. */
async function binaryBack(): Promise<void> {
  for (let i = 0; i < 60 && !existsSync(cboxBin); i++) await Bun.sleep(1000);
}

async function info(args: string[], as?: RunAs): Promise<Result> {
  await binaryBack();
  const env: Record<string, string> = as ? { PATH, HOME: as.home, ...MARK } : { PATH, ...MARK };
  const res = Bun.spawnSync([...asUser(as), cboxBin, "info", ...args], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  return { code: res.exitCode ?? -1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

function run(cmd: string[], as?: RunAs): { code: number; out: string } {
  const res = Bun.spawnSync([...asUser(as), ...cmd], { env: { PATH, HOME: as?.home ?? "/root", ...MARK }, stdout: "pipe", stderr: "pipe" });
  return { code: res.exitCode ?? -1, out: `${res.stdout}${res.stderr}`.trim() };
}

function must(cmd: string[], as?: RunAs): string {
  const r = run(cmd, as);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.out}`);
  return r.out;
}

/** The check lines of the text form: name -> [status, reason]. */
function checkLines(text: string): Map<string, [string, string]> {
  const lines = text.trimEnd().split("\n").slice(1);
  const checks = new Map<string, [string, string]>();
  for (const line of lines.filter((l) => !l.startsWith(" "))) {
    const m = CHECK_LINE.exec(line);
    if (!m) throw new Error(`not a check line: ${line}`);
    checks.set(m[2]!, [m[1]!, m[3]!]);
  }
  return checks;
}

// What the host has, asked of other tools.

/** hybrid, v1, v2 or none, from the mount table. */
function hostCgroupLayout(): string {
  const controllers = new Set(["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "blkio", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc"]);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" - ")[1]?.split(" ") ?? []);
  const v1 = mounts.some(([type, , opts]) => type === "cgroup" && (opts ?? "").split(",").some((o) => controllers.has(o)));
  const v2 = mounts.some(([type]) => type === "cgroup2");
  return v1 ? (v2 ? "hybrid" : "v1") : v2 ? "v2" : "none";
}

/** Whether util-linux's unshare can mount an overlay in a new user namespace, copy up and whiteout. */
function overlayInUsernsWorks(as?: RunAs): boolean {
  const dir = join(work, `oracle-${as ? "user" : "root"}`);
  mkdirSync(dir);
  try {
    if (as) must(["chown", `${as.uid}:${as.gid}`, dir]);
    const script = "mkdir -p l/kept l/gone u w m && mount -t overlay overlay -o lowerdir=$PWD/l,upperdir=$PWD/u,workdir=$PWD/w,userxattr $PWD/m && mkdir m/kept/new && rmdir m/gone";
    return run(["sh", "-c", `cd ${dir} && unshare --user --map-root-user --mount sh -c '${script}'`], as).code === 0;
  } finally {
    removeDir(dir);
  }
}

function tunUsableBy(as: RunAs): boolean {
  return run(["test", "-r", "/dev/net/tun", "-a", "-w", "/dev/net/tun"], as).code === 0;
}

function setuidRoot(name: string): boolean {
  const path = Bun.which(name, { PATH });
  if (!path) return false;
  const st = statSync(path);
  return st.uid === 0 && (st.mode & 0o4000) !== 0;
}

/** Probe folders (cbox-info-probe-*) in a folder. */
const probesIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith("cbox-info-probe-")) : []);

/**
 * Only this test's line is added and taken out again: other test files on this machine may edit
 * /etc/subuid meanwhile, and their lines must stay. With nobody else editing, the files end
 * exactly as they were.
 */
function setRanges(withRange: boolean): void {
  for (const file of ["/etc/subuid", "/etc/subgid"]) {
    const others = withoutOurs(existsSync(file) ? readFileSync(file, "utf8") : "");
    writeFileSync(file, others + (withRange ? `${USER}:${SUB_START}:65536\n` : ""));
  }
}

function restoreRanges(): void {
  for (const [file, text] of saved) {
    const now = withoutOurs(existsSync(file) ? readFileSync(file, "utf8") : "");
    if (text === undefined && now === "") rmSync(file, { force: true });
    else writeFileSync(file, now === withoutOurs(text ?? "") ? (text ?? "") : now);
  }
}

function withoutOurs(text: string): string {
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith(`${USER}:`))
    .map((l) => `${l}\n`)
    .join("");
}

describe.skipIf(!isRoot)("cbox info", () => {
  beforeAll(() => {
    for (const file of ["/etc/subuid", "/etc/subgid"]) saved.set(file, existsSync(file) ? readFileSync(file, "utf8") : undefined);
    work = tempDir("cbox-info-");
    chmodSync(work, 0o755);
    rootfs = buildRootfs(join(work, "rootfs"));
    Bun.spawnSync(["userdel", "-r", USER], { stderr: "ignore" });
    must(["useradd", "-m", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-s", "/bin/sh", USER]);
    user = { uid: Number(must(["id", "-u", USER])), gid: Number(must(["id", "-g", USER])), home: `/home/${USER}` };
  });

  afterAll(() => {
    restoreRanges();
    Bun.spawnSync(["userdel", "-r", USER], { stderr: "ignore" });
    if (work) removeDir(work);
  });

  test("as root, text: the header, then one aligned line per check, as this host is; nothing made, nothing mounted", async () => {
    const store = join(work, "no-store/cbox");
    const mountsBefore = hostMounts();
    const tmpProbes = probesIn("/tmp");
    const res = await info(["--root", store]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const [header, ...lines] = res.stdout.trimEnd().split("\n");
    const hostname = readFileSync("/proc/sys/kernel/hostname", "utf8").trim();
    expect(header).toMatch(new RegExp(`^cbox ${pkg.version.replaceAll(".", "\\.")} \\(commit [0-9a-f]{12}(-dirty)?\\) on ${hostname} \\(`));
    expect(header).toEndWith("), as root");
    // aligned: every item starts in column 9, every reason in the same column
    const reasonColumn = new Set(lines.map((l) => 9 + /^\S(?:.*?\S)? {2,}/.exec(l.slice(9))![0].length));
    expect(lines.every((l) => l.slice(0, 9).trimEnd() === "" || /^(ok|warn|missing) +$/.test(l.slice(0, 9)))).toBe(true);
    expect(reasonColumn.size).toBe(1);

    const checks = checkLines(res.stdout);
    expect([...checks.keys()]).toEqual(["kernel", "user namespaces", "overlayfs", "overlay in userns", "idmapped mounts", "cgroups", "subordinate ids", "newuidmap", "newgidmap", "firewall", "seccomp", "storage root", "runtime folder"]);
    const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    const [major, minor] = release.split(".").map(Number) as [number, number];
    expect(checks.get("kernel")).toEqual([major > 5 || (major === 5 && minor >= 11) ? "ok" : "missing", expect.stringContaining(`Linux ${release} `) as unknown as string]);
    const maxUserns = Number(readFileSync("/proc/sys/user/max_user_namespaces", "utf8"));
    expect(checks.get("user namespaces")).toEqual(maxUserns > 0 ? ["ok", `max_user_namespaces=${maxUserns}; made one`] : ["warn", expect.any(String) as unknown as string]);
    expect(checks.get("overlay in userns")![0]).toBe(overlayInUsernsWorks() ? "ok" : "warn");
    // the store does not exist: the probe ran in the temporary folder
    expect(checks.get("overlay in userns")![1]).toContain(" in /tmp on ");
    const layout = hostCgroupLayout();
    expect(checks.get("cgroups")![1]).toStartWith(layout === "v2" ? "v2 at " : `${layout}: `);
    expect(checks.get("seccomp")![0]).toBe(readFileSync("/proc/self/status", "utf8").includes("\nSeccomp:") ? "ok" : "missing");
    expect(checks.get("newuidmap")![0]).toBe(setuidRoot("newuidmap") ? "ok" : "warn");
    const tool = Bun.which("nft", { PATH }) ? "nft" : Bun.which("iptables", { PATH }) ? "iptables" : undefined;
    expect(checks.get("firewall")![1]).toStartWith(tool ? `${tool} (` : "neither nft nor iptables");
    expect(checks.get("storage root")![1]).toStartWith(`${store} (not made yet: the first pull or run makes it) on ext4 (`.replace("ext4", run(["df", "--output=fstype", work]).out.split("\n").pop()!));

    // read only: the missing store is not made; the probe left no folder and no mount
    expect(existsSync(join(work, "no-store"))).toBe(false);
    expect(probesIn("/tmp")).toEqual(tmpProbes);
    expect(hostMounts()).toEqual(mountsBefore);
  });

  test("as root, JSON: one object; counts of containers and images; the store is read, never changed", async () => {
    const store = join(work, "store");
    const tarball = join(work, "image.tar.gz");
    await binaryBack();
    must(["sh", join(import.meta.dir, "../../rootfs/build.sh"), join(work, "image-root"), tarball]);
    must([cboxBin, "import", "--root", store, tarball, "infotest:1"]);
    must([cboxBin, "run", "--root", store, "--network", "none", "--name", "info-stopped", "--rootfs", rootfs, "/bin/true"]);
    must([cboxBin, "run", "-d", "--root", store, "--network", "none", "--name", "info-running", "--rootfs", rootfs, "sleep", "600"]);
    try {
      const before = treeListing(store, false);
      // a probe folder a killed cbox info left (its pid cannot exist), with overlayfs's closed work/work
      const pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8"));
      const stale = join(store, `cbox-info-probe-${pidMax + 1}-x`);
      mkdirSync(join(stale, "work/work"), { recursive: true });
      chmodSync(join(stale, "work/work"), 0);

      const res = await info(["--format", "json", "--root", store]);
      expect(res.stderr).toBe("");
      expect(res.code).toBe(0);
      const out = JSON.parse(res.stdout);
      expect(Object.keys(out)).toEqual(["version", "commit", "host", "user", "kernel", "checks", "cgroups", "storage", "containers", "images"]);
      expect(out.version).toBe(pkg.version);
      expect(`cbox ${out.version} (commit ${out.commit})`).toBe(must([cboxBin, "version"]));
      expect(out.user).toEqual({ uid: 0, gid: 0, name: "root", root: true });
      expect(out.kernel.release).toBe(readFileSync("/proc/sys/kernel/osrelease", "utf8").trim());
      expect(out.containers).toEqual({ running: 1, stopped: 1 });
      expect(out.images).toBe(1);
      expect(out.cgroups.layout).toBe(hostCgroupLayout());
      expect(out.storage).toMatchObject({ root: store, exists: true, filesystem: run(["df", "--output=fstype", store]).out.split("\n").pop() });
      expect(out.storage.freeBytes).toBeGreaterThan(0);
      for (const c of out.checks) {
        expect(["ok", "warn", "missing"]).toContain(c.status);
        expect(Object.keys(c)).toEqual(c.status === "ok" ? ["name", "status", "detail"] : ["name", "status", "detail", ...(c.fix ? ["fix"] : [])]);
      }
      const overlay = out.checks.find((c: { name: string }) => c.name === "overlay in userns");
      expect(overlay.status).toBe(overlayInUsernsWorks() ? "ok" : "warn");
      // the store exists: the probe ran there, and left nothing; the stale one is gone too
      expect(overlay.detail).toContain(` in ${store} on `);
      expect(probesIn(store)).toEqual([]);
      expect(treeListing(store, false)).toEqual(before);
    } finally {
      run([cboxBin, "rm", "-f", "--root", store, "info-running", "info-stopped"]);
    }
  });

  test("bad flags: one line, exit 125, nothing printed on stdout", async () => {
    const cases: [string[], string][] = [
      [["--format", "yaml"], 'cbox: --format "yaml": use text or json\n'],
      [["extra"], 'cbox: cbox info takes no arguments (got "extra")\n'],
      [["--bogus"], "cbox: unknown flag: --bogus\n"],
      [["--format"], "cbox: flag needs an argument: --format\n"],
    ];
    for (const [args, line] of cases) {
      const res = await info(["--root", join(work, "never"), ...args]);
      expect({ args, ...res }).toEqual({ args, code: 125, stdout: "", stderr: line });
    }
    expect(existsSync(join(work, "never"))).toBe(false);
  });

  test("as a user with a subordinate range: the range mapped, no delegation on v1, the user's network and store", async () => {
    setRanges(true);
    try {
      const tmpProbes = probesIn("/tmp");
      const text = await info([], user);
      expect(text.stderr).toBe("");
      expect(text.code).toBe(0);
      expect(text.stdout.split("\n")[0]).toEndWith(`, as ${USER} (uid ${user.uid})`);
      const checks = checkLines(text.stdout);
      expect([...checks.keys()]).toEqual(["kernel", "user namespaces", "overlayfs", "overlay in userns", "idmapped mounts", "cgroups", "cgroup delegation", "subordinate ids", "newuidmap", "newgidmap", "slirp4netns", "/dev/net/tun", "seccomp", "storage root", "runtime folder"]);
      const range = `uids ${SUB_START}-${SUB_START + 65535}, gids ${SUB_START}-${SUB_START + 65535}`;
      const helpers = setuidRoot("newuidmap") && setuidRoot("newgidmap");
      expect(checks.get("subordinate ids")).toEqual(helpers ? ["ok", `${range}; newuidmap and newgidmap mapped them`] : ["ok", range]);
      expect(checks.get("overlay in userns")![0]).toBe(overlayInUsernsWorks(user) ? "ok" : "missing");
      const layout = hostCgroupLayout();
      if (layout === "v1" || layout === "hybrid") {
        expect(checks.get("cgroup delegation")).toEqual([
          "missing",
          "cgroup v1: an ordinary user's containers get no limits (limit flags are refused); fix: boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2, which systemd can delegate), or run as root",
        ]);
      }
      expect(checks.get("/dev/net/tun")![0]).toBe(tunUsableBy(user) ? "ok" : "missing");
      expect(checks.get("slirp4netns")![0]).toBe(Bun.which("slirp4netns", { PATH }) ? "ok" : "missing");
      const store = join(user.home, ".local/share/cbox");
      expect(checks.get("storage root")![1]).toStartWith(`${store} (not made yet: the first pull or run makes it) on `);
      expect(checks.get("runtime folder")![1]).toStartWith(`/tmp/cbox-${user.uid} `);

      const json = JSON.parse((await info(["--format", "json"], user)).stdout);
      expect(json.user).toEqual({ uid: user.uid, gid: user.gid, name: USER, root: false });
      expect(json.storage).toMatchObject({ root: store, exists: false });
      expect(json.containers).toEqual({ running: 0, stopped: 0 });
      expect(json.checks.map((c: { name: string; status: string }) => `${c.name}=${c.status}`)).toEqual([...checks].map(([name, [status]]) => `${name}=${status}`));

      // nothing made in the user's home, nothing left in /tmp
      expect(existsSync(join(user.home, ".local/share/cbox"))).toBe(false);
      expect(probesIn("/tmp")).toEqual(tmpProbes);
    } finally {
      restoreRanges();
    }
  });

  test("as a user without a subordinate range: a warning, and how to get one", async () => {
    setRanges(false);
    try {
      const res = await info([], user);
      expect(res.code).toBe(0);
      expect(checkLines(res.stdout).get("subordinate ids")).toEqual([
        "warn",
        `no range for ${USER} in /etc/subuid or /etc/subgid: containers have only your own id (chown to other ids fails inside); fix: as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${USER} (a range no other user has)`,
      ]);
    } finally {
      restoreRanges();
    }
    for (const file of ["/etc/subuid", "/etc/subgid"]) expect(readFileSync(file, "utf8")).not.toContain(`${USER}:`);
  });
});
