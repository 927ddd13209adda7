// scripts/install.sh against a local copy of the releases (test/fixtures/install-release.ts):
// under dash and busybox sh, with only the tools a test allows on PATH, as root and as an
// ordinary user, and every failure path, each leaving nothing behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildRelease, RELEASE_VERSION, sha256Hex, SUMS_ONLY, startReleaseServer, type Asset, type Fault, type Release, type ReleaseServer } from "../fixtures/install-release.ts";

const repo = resolve(import.meta.dir, "../..");
const installSh = join(repo, "scripts/install.sh");
const isRoot = process.getuid!() === 0;
const hostAsset: Asset = process.arch === "arm64" ? "cbox-linux-arm64" : "cbox-linux-x64";
const otherAsset: Asset = process.arch === "arm64" ? "cbox-linux-x64" : "cbox-linux-arm64";
const otherMachine = process.arch === "arm64" ? "x86_64" : "aarch64";
const SHELLS = { dash: ["dash"], busybox: ["busybox", "sh"] } as const;
type Shell = keyof typeof SHELLS;
// What the installer needs besides a downloader and a hasher (ldd: to tell glibc from musl).
const BASE_TOOLS = ["uname", "id", "mkdir", "mktemp", "chmod", "mv", "rm", "ldd"];
const TOOLS = [...BASE_TOOLS, "curl", "sha256sum"];
const USER = "cbox-install-t";

let work: string;
let release: Release;
let server: ReleaseServer;
let version: string; // what the release binary's `cbox version` prints
let user: { uid: number; gid: number; home: string } | undefined;
let runs = 0;

beforeAll(async () => {
  if (!existsSync(join(repo, "dist/cbox"))) throw new Error("dist/cbox is missing: run npm run build first (npm test does)");
  work = mkdtempSync(join(tmpdir(), "cbox-install-test-"));
  chmodSync(work, 0o755); // the test user walks through it to its own folders
  // Copies, not links: dist/cbox may be rebuilt while the tests run.
  release = await buildRelease(join(work, "release"), {
    "cbox-linux-x64": join(repo, process.arch === "arm64" ? "dist/cbox-linux-x64" : "dist/cbox"),
    "cbox-linux-arm64": join(repo, process.arch === "arm64" ? "dist/cbox" : "dist/cbox-linux-arm64"),
  }, installSh);
  server = startReleaseServer(release);
  const v = Bun.spawnSync([join(release.dir, hostAsset), "version"], { stdout: "pipe" });
  version = v.stdout.toString().trim();
  if (v.exitCode !== 0 || !version.startsWith("cbox ")) throw new Error(`${hostAsset} version: ${version}`);
  if (isRoot) user = createUser(join(work, "home"));
});

afterAll(() => {
  server?.stop();
  if (user) Bun.spawnSync(["userdel", "-r", USER], { stderr: "ignore" });
  if (work) rmSync(work, { recursive: true, force: true });
});

function createUser(home: string) {
  Bun.spawnSync(["userdel", "-r", USER], { stderr: "ignore" }); // left by a killed run
  const add = Bun.spawnSync(["useradd", "--create-home", "--home-dir", home, "--shell", "/bin/sh", USER], { stderr: "pipe" });
  if (add.exitCode !== 0) throw new Error(`useradd ${USER}: ${add.stderr}`);
  const id = (flag: string) => Number(Bun.spawnSync(["id", flag, USER], { stdout: "pipe" }).stdout.toString().trim());
  return { uid: id("-u"), gid: id("-g"), home };
}

/** A program's path on the test's own PATH (the installer's PATH holds only what a test allows). */
function hostTool(name: string): string {
  const path = Bun.which(name);
  if (!path) throw new Error(`${name} is not installed: .ci/run installs the packages these tests use`);
  return path;
}

/** The command prefix that runs a command as the test user. */
const asTestUser = (yes = false) => (yes ? [hostTool("setpriv"), `--reuid=${user!.uid}`, `--regid=${user!.gid}`, "--clear-groups", "--"] : []);

interface InstallOptions {
  shell?: Shell;
  tools?: string[]; // host tools linked into the PATH folder
  fakes?: Record<string, string>; // tool name -> a sh script standing in for it
  base?: string; // CBOX_DOWNLOAD_URL
  dir?: string | null; // CBOX_INSTALL_DIR; null: unset
  env?: Record<string, string>;
  asUser?: boolean;
  pathAlso?: string; // a folder put on PATH after the tools' folder
  wrap?: string[]; // runs the installer through this command (its arguments follow)
  onStart?: (proc: Bun.Subprocess) => Promise<void> | void;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  tmp: string; // the run's TMPDIR
  home: string;
  env: Record<string, string>;
}

/** Runs install.sh in a folder of its own (bin, tmp, home) with only the allowed tools on PATH. */
async function install(o: InstallOptions = {}): Promise<Run> {
  const run = join(work, `run-${++runs}`);
  const [bin, tmp] = [join(run, "bin"), join(run, "tmp")];
  const home = o.asUser ? user!.home : join(run, "home");
  for (const d of [run, bin, tmp, home]) mkdirSync(d, { recursive: true, mode: 0o755 });
  for (const tool of o.tools ?? TOOLS) symlinkSync(hostTool(tool), join(bin, tool));
  for (const [tool, body] of Object.entries(o.fakes ?? {})) writeFileSync(join(bin, tool), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  if (o.asUser) chownSync(tmp, user!.uid, user!.gid);
  const env: Record<string, string> = { PATH: o.pathAlso ? `${bin}:${o.pathAlso}` : bin, HOME: home, TMPDIR: tmp };
  if (o.base !== undefined) env.CBOX_DOWNLOAD_URL = o.base;
  if (o.dir !== null) env.CBOX_INSTALL_DIR = o.dir ?? join(run, "install");
  Object.assign(env, o.env);
  const [shell, ...shellArgs] = SHELLS[o.shell ?? "dash"];
  const cmd = [...(o.wrap ?? []), ...asTestUser(o.asUser), hostTool(shell), ...shellArgs, installSh];
  const proc = Bun.spawn([hostTool(cmd[0]), ...cmd.slice(1)], {
    env, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: o.onStart !== undefined,
  });
  const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await o.onStart?.(proc);
  const [stdout, stderr] = await output;
  return { code: await proc.exited, stdout, stderr, tmp, home, env };
}

let tags = 0;
/** A CBOX_DOWNLOAD_URL of its own, so a test finds its requests. */
function baseFor(fault: Fault = "ok") {
  const tag = `t${++tags}`;
  return { tag, base: server.base(tag, fault) };
}

/** What the installer shows at the end: `cbox info` as it runs for this user, and its exit code. */
function infoOutput(target: string, r: Run, asUser = false) {
  const info = Bun.spawnSync([...asTestUser(asUser), target, "info"], { env: r.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const note = info.exitCode === 0 ? "" : `cbox-install: 'cbox info' exited with ${info.exitCode}; cbox is installed, see above for what it reports\n`;
  return { stdout: info.stdout.toString(), stderr: info.stderr.toString() + note };
}

// cbox info reports free space and container counts, which change between two runs.
const numbersMasked = (text: string) => text.replace(/\d+(?:\.\d+)?/g, "N");

const hint = (dir: string) => `cbox-install: ${dir} is not on your PATH; add this line to your shell profile (~/.profile): export PATH="${dir}:$PATH"\n`;

/** A successful install's output, the binary in place with mode 755, and no temp file anywhere. */
function expectInstalled(r: Run, o: { dir: string; base: string; verb?: "installed" | "upgraded"; onPath?: boolean; asUser?: boolean; path?: string }) {
  const target = join(o.dir, "cbox");
  const shown = o.path ?? target;
  const lines =
    `cbox-install: downloading ${hostAsset} from ${o.base}/latest/download\n` +
    `cbox-install: ${o.verb ?? "installed"} ${shown}: ${version}\n` +
    (o.onPath ? "" : hint(shown.replace(/\/cbox$/, "")));
  const info = infoOutput(target, r, o.asUser);
  expect({ code: r.code, stdout: r.stdout.slice(0, lines.length) }).toEqual({ code: 0, stdout: lines });
  expect({ stdout: numbersMasked(r.stdout.slice(lines.length)), stderr: numbersMasked(r.stderr) })
    .toEqual({ stdout: numbersMasked(info.stdout), stderr: numbersMasked(info.stderr) });
  expect(sha256Hex(readFileSync(target))).toBe(release.sha256[hostAsset]);
  expect(statSync(target).mode & 0o7777).toBe(0o755);
  expect(readdirSync(o.dir)).toEqual(["cbox"]);
  expect(readdirSync(r.tmp)).toEqual([]);
}

/** A failed run: exit 1, exactly one line on stderr, nothing on stdout past `before`, nothing left. */
function expectFailed(r: Run, line: string, o: { dir?: string; before?: string[]; old?: OldBinary } = {}) {
  expect({ code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({ code: 1, stderr: line + "\n", stdout: (o.before ?? []).map((l) => l + "\n").join("") });
  expect(readdirSync(r.tmp)).toEqual([]);
  if (o.dir !== undefined) expect(existsSync(o.dir) ? readdirSync(o.dir) : []).toEqual(o.old ? ["cbox"] : []);
  if (o.old) expectUntouched(o.old);
}

interface OldBinary {
  path: string;
  ino: number;
  bytes: Buffer;
}

/** An earlier install: a small executable at dir/cbox, to see that a failure keeps it. */
function oldBinary(dir: string): OldBinary {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "cbox");
  writeFileSync(path, "#!/bin/sh\necho cbox 0.0.1\n", { mode: 0o755 });
  return { path, ino: statSync(path).ino, bytes: readFileSync(path) };
}

function expectUntouched(old: OldBinary) {
  expect(statSync(old.path).ino).toBe(old.ino);
  expect(readFileSync(old.path)).toEqual(old.bytes);
}

const downloading = (base: string, asset: Asset = hostAsset, where = "latest/download") => `cbox-install: downloading ${asset} from ${base}/${where}`;
const installDir = (name: string) => join(work, `dir-${name}`);
const fakeUname = (s: string, m: string) => `case "$1" in -s) echo ${s} ;; -m) echo ${m} ;; *) exit 1 ;; esac`;
const noUname = TOOLS.filter((t) => t !== "uname");

describe("install.sh installs", () => {
  for (const shell of ["dash", "busybox"] as const) {
    test(`as root into CBOX_INSTALL_DIR, downloading with curl, under ${shell}: the release binary, its version, the PATH hint, cbox info`, async () => {
      const { tag, base } = baseFor();
      const dir = installDir(`fresh-${shell}`);
      const r = await install({ shell, base, dir });
      expectInstalled(r, { dir, base });
      expect(server.requestsOf(tag)).toEqual([
        "/latest/download/SHA256SUMS", `/download/${RELEASE_VERSION}/SHA256SUMS`,
        `/latest/download/${hostAsset}`, `/download/${RELEASE_VERSION}/${hostAsset}`,
      ]);
    });
  }

  // busybox sh runs its own applets before PATH's tools: its wget is always there.
  test("under busybox sh with no curl: busybox's own wget", async () => {
    const { base } = baseFor();
    const dir = installDir("busybox-wget");
    const r = await install({ shell: "busybox", base, dir, tools: [...BASE_TOOLS, "sha256sum"] });
    expectInstalled(r, { dir, base });
  });

  test("with Debian's wget when there is no curl", async () => {
    const { tag, base } = baseFor();
    const dir = installDir("wget");
    const r = await install({ base, dir, tools: [...BASE_TOOLS, "wget", "sha256sum"] });
    expectInstalled(r, { dir, base });
    expect(server.requestsOf(tag)).toEqual([
      "/latest/download/SHA256SUMS", `/download/${RELEASE_VERSION}/SHA256SUMS`,
      `/latest/download/${hostAsset}`, `/download/${RELEASE_VERSION}/${hostAsset}`,
    ]);
  });

  for (const hasher of ["shasum", "openssl"]) {
    test(`verifying with ${hasher} when there is no sha256sum`, async () => {
      const { base } = baseFor();
      const dir = installDir(hasher);
      const r = await install({ base, dir, tools: [...BASE_TOOLS, "curl", hasher] });
      expectInstalled(r, { dir, base });
    });
  }

  test("with a SHA256SUMS whose last line has no newline", async () => {
    const { base } = baseFor("sums-unterminated");
    const dir = installDir("sums-unterminated");
    const r = await install({ base, dir });
    expectInstalled(r, { dir, base });
  });

  test("with CBOX_VERSION: 1.2.3 and v1.2.3 from /download/v1.2.3/, latest from /latest/download/", async () => {
    for (const v of ["1.2.3", "v1.2.3", "latest"]) {
      const { tag, base } = baseFor();
      const dir = installDir(`version-${v}`);
      const r = await install({ base, dir, env: { CBOX_VERSION: v } });
      const where = v === "latest" ? "latest/download" : "download/v1.2.3";
      expect(r.stdout.split("\n")[0]).toBe(downloading(base, hostAsset, where));
      expect(r.code).toBe(0);
      expect(sha256Hex(readFileSync(join(dir, "cbox")))).toBe(release.sha256[hostAsset]);
      expect(server.requestsOf(tag)).toEqual(v === "latest"
        ? ["/latest/download/SHA256SUMS", "/download/v1.2.3/SHA256SUMS", `/latest/download/${hostAsset}`, `/download/v1.2.3/${hostAsset}`]
        : ["/download/v1.2.3/SHA256SUMS", `/download/v1.2.3/${hostAsset}`]);
    }
  });

  test.skipIf(!isRoot)("as root without CBOX_INSTALL_DIR: into /usr/local/bin (a private mount namespace binds a temp folder there)", async () => {
    const { base } = baseFor();
    const dir = installDir("default-root");
    mkdirSync(dir);
    const hostHad = existsSync("/usr/local/bin/cbox") ? statSync("/usr/local/bin/cbox").ino : null;
    const r = await install({
      base, dir: null,
      wrap: ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", '/bin/mount --bind "$0" /usr/local/bin && exec "$@"', dir],
    });
    expectInstalled(r, { dir, base, path: "/usr/local/bin/cbox" });
    expect(existsSync(join(r.home, ".local"))).toBe(false);
    expect(existsSync("/usr/local/bin/cbox") ? statSync("/usr/local/bin/cbox").ino : null).toBe(hostHad);
  });

  test.skipIf(!isRoot)("as an ordinary user: into ~/.local/bin, made, with the PATH hint; again with it on PATH: upgraded in place, no hint", async () => {
    const { base } = baseFor();
    const dir = join(user!.home, ".local/bin");
    const first = await install({ base, dir: null, asUser: true });
    expectInstalled(first, { dir, base, asUser: true });
    expect(statSync(dir).uid).toBe(user!.uid);
    expect(statSync(join(dir, "cbox")).uid).toBe(user!.uid);
    const ino = statSync(join(dir, "cbox")).ino;

    const second = await install({ base, dir: null, asUser: true, pathAlso: dir });
    expectInstalled(second, { dir, base, asUser: true, verb: "upgraded", onPath: true });
    expect(statSync(join(dir, "cbox")).ino).not.toBe(ino);
  });

  test("into a pipe closed after one line (| head -n 1): the rest is lost, the install completes, nothing is left", async () => {
    const { base } = baseFor();
    const dir = installDir("head");
    const r = await install({ base, dir, wrap: ["sh", "-c", `"$@" | ${hostTool("head")} -n 1`, "sh"] });
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: downloading(base) + "\n", stderr: "" });
    expect(sha256Hex(readFileSync(join(dir, "cbox")))).toBe(release.sha256[hostAsset]);
    expect(readdirSync(dir)).toEqual(["cbox"]);
    expect(readdirSync(r.tmp)).toEqual([]);
  });

  test("over a running cbox: the new binary is renamed into place; the running one keeps its old inode, now (deleted)", async () => {
    const { base } = baseFor();
    const dir = installDir("upgrade");
    mkdirSync(dir);
    const target = join(dir, "cbox");
    copyFileSync(hostTool("sleep"), target); // an old binary that runs until told to stop
    chmodSync(target, 0o755);
    const oldIno = statSync(target).ino;
    const running = Bun.spawn([target, "600"], { stdout: "ignore", stderr: "ignore" });
    try {
      expect(readlinkSync(`/proc/${running.pid}/exe`)).toBe(target);
      const r = await install({ base, dir });
      expectInstalled(r, { dir, base, verb: "upgraded" });
      expect(statSync(target).ino).not.toBe(oldIno);
      expect(running.exitCode).toBeNull();
      expect(readlinkSync(`/proc/${running.pid}/exe`)).toBe(`${target} (deleted)`);
      expect(statSync(`/proc/${running.pid}/exe`).ino).toBe(oldIno);
    } finally {
      running.kill();
      await running.exited;
    }
  });

  for (const tool of ["curl", "wget"] as const) {
    test(`piped: ${tool} ${tool === "curl" ? "-fsSL" : "-qO-"} .../latest/download/install.sh | sh`, async () => {
      const dir = installDir(`piped-${tool}`);
      const [tmp, home] = [join(work, `piped-${tool}-tmp`), join(work, `piped-${tool}-home`)];
      mkdirSync(tmp);
      mkdirSync(home);
      const url = `${server.origin}/latest/download/install.sh`;
      const fetchScript = tool === "curl" ? `curl -fsSL ${url}` : `wget -qO- ${url}`;
      const env = { PATH: "/usr/bin:/bin", HOME: home, TMPDIR: tmp, CBOX_DOWNLOAD_URL: server.origin, CBOX_INSTALL_DIR: dir };
      const before = server.requests.length;
      const proc = Bun.spawn(["sh", "-c", `${fetchScript} | sh`], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      expectInstalled({ code, stdout, stderr, tmp, home, env }, { dir, base: server.origin });
      expect(server.requests.slice(before)).toEqual([
        "/latest/download/install.sh", `/download/${RELEASE_VERSION}/install.sh`,
        "/latest/download/SHA256SUMS", `/download/${RELEASE_VERSION}/SHA256SUMS`,
        `/latest/download/${hostAsset}`, `/download/${RELEASE_VERSION}/${hostAsset}`,
      ]);
    });
  }
});

describe("install.sh fails in one line, installs nothing and leaves nothing behind", () => {
  for (const tool of ["curl", "wget"] as const) {
    test(`CBOX_VERSION of no release: HTTP 404 (${tool})`, async () => {
      const { base } = baseFor();
      const dir = installDir(`404-${tool}`);
      const old = oldBinary(dir);
      const r = await install({ base, dir, tools: [...BASE_TOOLS, tool, "sha256sum"], env: { CBOX_VERSION: "9.9.9" } });
      expectFailed(r, `cbox-install: ${base}/download/v9.9.9/SHA256SUMS was not found (HTTP 404); check CBOX_VERSION (9.9.9) names a cbox release, or leave it unset for the latest`, {
        dir, old, before: [downloading(base, hostAsset, "download/v9.9.9")],
      });
    });
  }

  test("a release without this machine's binary: HTTP 404", async () => {
    const { base } = baseFor("no-binary");
    const dir = installDir("no-binary");
    const old = oldBinary(dir);
    const r = await install({ base, dir });
    expectFailed(r, `cbox-install: ${base}/latest/download/${hostAsset} was not found (HTTP 404); check CBOX_VERSION (latest) names a cbox release, or leave it unset for the latest`, {
      dir, old, before: [downloading(base)],
    });
  });

  for (const shell of ["dash", "busybox"] as const) {
    test(`a checksum that does not match SHA256SUMS (${shell})`, async () => {
      const { base } = baseFor("wrong-sum");
      const dir = installDir(`wrong-sum-${shell}`);
      const old = oldBinary(dir);
      const r = await install({ shell, base, dir });
      const right = release.sha256[hostAsset];
      const flipped = (right[0] === "0" ? "1" : "0") + right.slice(1); // what the server announces
      expectFailed(r, `cbox-install: checksum mismatch: ${hostAsset} has sha256 ${right}, SHA256SUMS says ${flipped}; nothing was installed; run the installer again`, {
        dir, old, before: [downloading(base)],
      });
    });
  }

  test("a SHA256SUMS without this machine's binary", async () => {
    const { base } = baseFor("sums-without-binary");
    const dir = installDir("sums-without-binary");
    const old = oldBinary(dir);
    const r = await install({ base, dir, ...(hostAsset === SUMS_ONLY ? { tools: noUname, fakes: { uname: fakeUname("Linux", otherMachine) } } : {}) });
    const asset = hostAsset === SUMS_ONLY ? otherAsset : hostAsset;
    expectFailed(r, `cbox-install: ${base}/latest/download/SHA256SUMS has no valid line for ${asset}; nothing was installed; report this to cbox's maintainers`, {
      dir, old, before: [downloading(base, asset)],
    });
  });

  test("a failure whose message goes to a closed pipe (2>&1 | head -n 1): SIGPIPE still cleans up", async () => {
    const { base } = baseFor("wrong-sum");
    const dir = installDir("head-failed");
    const old = oldBinary(dir);
    const r = await install({ base, dir, wrap: ["sh", "-c", `"$@" 2>&1 | ${hostTool("head")} -n 1`, "sh"] });
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: downloading(base) + "\n", stderr: "" });
    expect(readdirSync(r.tmp)).toEqual([]);
    expect(readdirSync(dir)).toEqual(["cbox"]);
    expectUntouched(old);
  });

  test("a download cut halfway (curl)", async () => {
    const { base } = baseFor("cut");
    const dir = installDir("cut-curl");
    const old = oldBinary(dir);
    const r = await install({ base, dir });
    const remaining = release.files.get(hostAsset)!.length - (release.files.get(hostAsset)!.length >> 1);
    expectFailed(r, `cbox-install: downloading ${base}/latest/download/${hostAsset} failed (curl: (18) transfer closed with ${remaining} bytes remaining to read); check the network and run the installer again`, {
      dir, old, before: [downloading(base)],
    });
  });

  test("a download cut halfway (wget)", async () => {
    const { base } = baseFor("cut");
    const dir = installDir("cut-wget");
    const old = oldBinary(dir);
    const r = await install({ base, dir, tools: [...BASE_TOOLS, "wget", "sha256sum"] });
    expectFailed(r, `cbox-install: downloading ${base}/latest/download/${hostAsset} failed (wget: network failure); check the network and run the installer again`, {
      dir, old, before: [downloading(base)],
    });
  });

  test("a download cut halfway (busybox sh with its own wget)", async () => {
    const { base } = baseFor("cut");
    const dir = installDir("cut-busybox-wget");
    const old = oldBinary(dir);
    const r = await install({ shell: "busybox", base, dir, tools: [...BASE_TOOLS, "sha256sum"] });
    expectFailed(r, `cbox-install: downloading ${base}/latest/download/${hostAsset} failed (wget: connection closed prematurely); check the network and run the installer again`, {
      dir, old, before: [downloading(base)],
    });
  });

  test("a TMPDIR that does not exist", async () => {
    const { tag, base } = baseFor();
    const dir = installDir("no-tmpdir");
    const old = oldBinary(dir);
    const missing = join(work, "no-such-tmp");
    const r = await install({ base, dir, env: { TMPDIR: missing } });
    expectFailed(r, `cbox-install: cannot create a temporary folder in ${missing}; set TMPDIR to a folder you can write to`, { dir, old });
    expect(existsSync(missing)).toBe(false);
    expect(server.requestsOf(tag)).toEqual([]);
  });

  for (const tool of ["curl", "wget"] as const) {
    test.skipIf(!isRoot)(`a full disk: a 1 MiB tmpfs as the install folder (${tool}), in a private mount namespace`, async () => {
      const { base } = baseFor();
      const dir = installDir(`full-${tool}`);
      const seen = join(work, `full-${tool}-seen`);
      mkdirSync(dir);
      mkdirSync(seen);
      // Mounts the tmpfs with an old cbox in it, runs the installer, then records what the
      // tmpfs holds (it goes away with the namespace).
      const wrapper = [
        'd=$1 seen=$2; shift 2',
        '/bin/mount -t tmpfs -o size=1m,mode=755 cbox-install-test "$d" || exit 99',
        'printf "#!/bin/sh\\necho cbox 0.0.1\\n" >"$d/cbox"',
        '"$@"; rc=$?',
        '/bin/ls -A "$d" >"$seen/left"; /bin/cat "$d/cbox" >"$seen/old"',
        'exit $rc',
      ].join("\n");
      const r = await install({
        base, dir, tools: [...BASE_TOOLS, tool, "sha256sum"],
        wrap: ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", wrapper, "sh", dir, seen],
      });
      expectFailed(r, `cbox-install: cannot write the download into ${dir} (is the disk full?); free some space there, or set CBOX_INSTALL_DIR or TMPDIR to another folder`, {
        before: [downloading(base)],
      });
      expect(readFileSync(join(seen, "left"), "utf8")).toBe("cbox\n");
      expect(readFileSync(join(seen, "old"), "utf8")).toBe("#!/bin/sh\necho cbox 0.0.1\n");
      expect(readdirSync(dir)).toEqual([]); // the host's folder under the tmpfs was never written
    });
  }

  test("neither curl nor wget (dash: busybox sh always has its wget)", async () => {
    const { tag, base } = baseFor();
    const dir = installDir("no-downloader");
    const r = await install({ base, dir, tools: [...BASE_TOOLS, "sha256sum"] });
    expectFailed(r, "cbox-install: neither curl nor wget is installed; install one of them (e.g. apt-get install curl) and run the installer again", { dir });
    expect(server.requestsOf(tag)).toEqual([]);
  });

  test("no sha256sum, shasum or openssl", async () => {
    const { tag, base } = baseFor();
    const dir = installDir("no-hasher");
    const r = await install({ base, dir, tools: [...BASE_TOOLS, "curl"] });
    expectFailed(r, "cbox-install: found no sha256sum, shasum or openssl to verify the download with; install one (e.g. coreutils) and run the installer again", { dir });
    expect(server.requestsOf(tag)).toEqual([]);
  });

  test("a tool the installer needs is missing (mktemp)", async () => {
    const { base } = baseFor();
    const dir = installDir("no-mktemp");
    const r = await install({ base, dir, tools: TOOLS.filter((t) => t !== "mktemp") });
    expectFailed(r, "cbox-install: this system has no 'mktemp' command, which the installer needs; install it and run the installer again", { dir });
  });

  test("an unsupported architecture (a uname that says riscv64)", async () => {
    const { tag, base } = baseFor();
    const dir = installDir("riscv64");
    const r = await install({ base, dir, tools: noUname, fakes: { uname: fakeUname("Linux", "riscv64") } });
    expectFailed(r, "cbox-install: no cbox release for this machine's architecture (riscv64); releases exist for x86_64 and aarch64 only", { dir });
    expect(server.requestsOf(tag)).toEqual([]);
  });

  test("a system that is not Linux (a uname that says Darwin)", async () => {
    const { base } = baseFor();
    const dir = installDir("darwin");
    const r = await install({ base, dir, tools: noUname, fakes: { uname: fakeUname("Darwin", "arm64") } });
    expectFailed(r, "cbox-install: cbox runs on Linux only; this system is Darwin", { dir });
  });

  // Where binfmt_misc hands the other architecture's programs to qemu, they do run here.
  test.skipIf(emulatorRegistered(otherMachine))(`the other architecture (a uname that says ${otherMachine}): downloads ${otherAsset}, which does not run here, and installs nothing`, async () => {
    const { tag, base } = baseFor();
    const dir = installDir("other-arch");
    const old = oldBinary(dir);
    const r = await install({ base, dir, tools: noUname, fakes: { uname: fakeUname("Linux", otherMachine) } });
    expect(r.stderr).toMatch(new RegExp(`^cbox-install: the downloaded ${otherAsset} does not run on this machine \\(${installSh}: \\d+: ${dir}/\\.cbox\\.\\w{6}: Exec format error\\); nothing was installed\\n$`));
    expectFailed(r, r.stderr.trimEnd(), { dir, old, before: [downloading(base, otherAsset)] });
    expect(server.requestsOf(tag)).toEqual([
      "/latest/download/SHA256SUMS", `/download/${RELEASE_VERSION}/SHA256SUMS`,
      `/latest/download/${otherAsset}`, `/download/${RELEASE_VERSION}/${otherAsset}`,
    ]);
  });

  const glibc = "cbox's release binaries need glibc 2.17 or later: use a glibc distribution (Debian, Ubuntu, Fedora, ...)";
  test("a musl host (an ldd that says musl, as Alpine's does)", async () => {
    const { tag, base } = baseFor();
    const dir = installDir("musl");
    const musl = 'echo "musl libc (x86_64)" >&2; echo "Version 1.2.4" >&2; echo "Dynamic Program Loader" >&2; exit 1';
    const r = await install({ base, dir, tools: TOOLS.filter((t) => t !== "ldd"), fakes: { ldd: musl } });
    expectFailed(r, `cbox-install: this system's C library is musl, not glibc; ${glibc}`, { dir });
    expect(server.requestsOf(tag)).toEqual([]);
  });

  test("a glibc older than 2.17 (an ldd that says 2.12)", async () => {
    const { base } = baseFor();
    const dir = installDir("old-glibc");
    const old = 'echo "ldd (GNU libc) 2.12"; echo "Copyright (C) 2010 Free Software Foundation, Inc."';
    const r = await install({ base, dir, tools: TOOLS.filter((t) => t !== "ldd"), fakes: { ldd: old } });
    expectFailed(r, `cbox-install: this system has glibc 2.12; ${glibc}`, { dir });
  });

  test("CBOX_VERSION that is not a version", async () => {
    const { tag, base } = baseFor();
    const dir = installDir("bad-version");
    const r = await install({ base, dir, env: { CBOX_VERSION: "1.2.3/../../x" } });
    expectFailed(r, "cbox-install: CBOX_VERSION=1.2.3/../../x is not a version; use e.g. 1.2.3 or v1.2.3, or leave it unset for the latest release", { dir });
    expect(server.requestsOf(tag)).toEqual([]);
  });

  test("a target that is a folder", async () => {
    const { base } = baseFor();
    const dir = installDir("target-folder");
    mkdirSync(join(dir, "cbox"), { recursive: true });
    const r = await install({ base, dir });
    expectFailed(r, `cbox-install: ${dir}/cbox is a folder; remove it, or set CBOX_INSTALL_DIR to another folder`);
    expect(readdirSync(dir)).toEqual(["cbox"]);
    expect(readdirSync(join(dir, "cbox"))).toEqual([]);
  });

  test.skipIf(!isRoot)("an ordinary user's CBOX_INSTALL_DIR it cannot write to", async () => {
    const { base } = baseFor();
    const dir = installDir("not-writable");
    const old = oldBinary(dir); // root's, mode 755
    const r = await install({ base, dir, asUser: true });
    expectFailed(r, `cbox-install: cannot write to ${dir}; run the installer as root, or set CBOX_INSTALL_DIR to a folder you can write to`, { dir, old });
  });

  for (const shell of ["dash", "busybox"] as const) {
    test(`Ctrl-C during the download (SIGINT to the process group) under ${shell}: exit 130`, async () => {
      const { tag, base } = baseFor("slow");
      const dir = installDir(`interrupted-${shell}`);
      const old = oldBinary(dir);
      const r = await install({
        shell, base, dir,
        onStart: async (proc) => {
          await server.slowStarted(tag);
          process.kill(-proc.pid, "SIGINT");
        },
      });
      expect({ code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({
        code: 130, stderr: "cbox-install: interrupted; nothing was installed\n", stdout: downloading(base) + "\n",
      });
      expect(readdirSync(r.tmp)).toEqual([]);
      expect(readdirSync(dir)).toEqual(["cbox"]);
      expectUntouched(old);
    });
  }

  test("SIGTERM to the installer alone during the download: it stops once the download ends, exit 143", async () => {
    const { tag, base } = baseFor("slow");
    const dir = installDir("terminated");
    const old = oldBinary(dir);
    const r = await install({
      base, dir,
      onStart: async (proc) => {
        await server.slowStarted(tag);
        proc.kill("SIGTERM");
        server.releaseSlow(tag);
      },
    });
    expect({ code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({
      code: 143, stderr: "cbox-install: interrupted; nothing was installed\n", stdout: downloading(base) + "\n",
    });
    expect(readdirSync(r.tmp)).toEqual([]);
    expect(readdirSync(dir)).toEqual(["cbox"]);
    expectUntouched(old);
  });
});

describe("dist/release", () => {
  const dist = join(repo, "dist/release");
  test.skipIf(!existsSync(join(dist, "SHA256SUMS")))("(made by npm run release) holds both binaries, SHA256SUMS that verifies them, and scripts/install.sh", () => {
    expect(readdirSync(dist).sort()).toEqual(["SHA256SUMS", "cbox-linux-arm64", "cbox-linux-x64", "install.sh"]);
    const sums = readFileSync(join(dist, "SHA256SUMS"), "utf8").split("\n");
    expect(sums.pop()).toBe("");
    expect(sums.map((l) => /^[0-9a-f]{64}  (cbox-linux-(?:x64|arm64))$/.exec(l)?.[1]).sort()).toEqual(["cbox-linux-arm64", "cbox-linux-x64"]);
    const check = Bun.spawnSync(["sha256sum", "--check", "--strict", "SHA256SUMS"], { cwd: dist, stdout: "pipe", stderr: "pipe" });
    expect(check.exitCode).toBe(0);
    expect(readFileSync(join(dist, "install.sh"))).toEqual(readFileSync(installSh));
  });
});

/** Whether binfmt_misc has an enabled handler (qemu-user) for machine's ELF programs. */
function emulatorRegistered(machine: string): boolean {
  const elfMachine = machine === "aarch64" ? "b700" : "3e00"; // e_machine, little-endian, as the magic shows it
  const dir = "/proc/sys/fs/binfmt_misc";
  const entries = existsSync(dir) ? readdirSync(dir).filter((f) => f !== "register" && f !== "status") : [];
  return entries.some((f) => {
    const text = readFileSync(join(dir, f), "utf8");
    return text.startsWith("enabled") && new RegExp(`^magic 7f454c46\\w{28}${elfMachine}`, "m").test(text);
  });
}
