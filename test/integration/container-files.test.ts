// cbox cp, diff and export on real containers, running and stopped, as root, rootless and with
// --userns=private: docker's rules for where files land, owners inside and out, symlinks of the
// container that must never lead out of it, hostile archives, and one-line refusals.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { extract } from "tar-stream";
import { benignEntries, hostileCases, makeTar, mtimeDir, mtimeFile } from "../fixtures/hostile.ts";
import { asUser, baseEnv, cbox, cboxBin, hostMounts, isRoot, removeDir, rootfsFixture, rootlessUserFixture, tempDir, treeListing, type RunAs } from "./helpers.ts";
import { TerminalSession } from "./terminal.ts";

const fx = rootfsFixture();
const c = (args: string[]) => cbox([args[0]!, "--root", fx.store, ...args.slice(1)]);

/** cbox with binary stdin and stdout (tar archives). */
function cboxRaw(args: string[], opts: { stdin?: Uint8Array; as?: RunAs; store?: string } = {}) {
  const res = Bun.spawnSync([...asUser(opts.as), cboxBin, args[0]!, "--root", opts.store ?? fx.store, ...args.slice(1)], {
    stdin: opts.stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: baseEnv(opts.as),
  });
  return { code: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr.toString() };
}

interface TarItem {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  /** A file's content, a link's target. */
  text: string;
}

async function readTar(bytes: Uint8Array): Promise<TarItem[]> {
  const ex = extract();
  ex.end(bytes);
  const items: TarItem[] = [];
  for await (const e of ex) {
    let text = "";
    for await (const chunk of e) text += Buffer.from(chunk).toString();
    const h = e.header;
    items.push({ name: h.name, type: h.type ?? "file", mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, text: h.linkname || text });
  }
  return items;
}

/** Runs a container to its end: --network none, the script as its command. */
function runDone(name: string, script: string, flags: string[] = []) {
  const r = c(["run", "--name", name, "--network", "none", ...flags, "--rootfs", fx.rootfs, "sh", "-c", script]);
  expect(r).toMatchObject({ code: 0, stderr: "" });
}

/** A detached container running the script (which ends by touching /ready), then sleeping; returns once /ready is there. */
function runDetached(name: string, script: string, flags: string[] = [], run = c) {
  const r = run(["run", "-d", "--name", name, "--network", "none", ...flags, "--rootfs", fx.rootfs, "sh", "-c", `${script}; sleep 1000`]);
  expect(r).toMatchObject({ code: 0, stderr: "" });
  waitReady(name, run);
}

function waitReady(name: string, run = c) {
  for (let i = 0; i < 500 && run(["exec", name, "test", "-e", "/ready"]).code !== 0; i++) Bun.sleepSync(10);
}

function upperOf(name: string): string {
  return join(fx.store, "containers", JSON.parse(c(["inspect", name]).stdout)[0].Id, "upper");
}

/** One line on stderr, exit 125. */
function refused(r: { code: number; stderr: string }, line: string | RegExp) {
  expect(r.code).toBe(125);
  expect(r.stderr.split("\n")).toHaveLength(2);
  if (typeof line === "string") expect(r.stderr).toBe(`cbox: ${line}\n`);
  else expect(r.stderr).toMatch(line);
}

describe.skipIf(!isRoot)("cbox cp", () => {
  let work = "";
  const containers: string[] = [];
  const made = (...names: string[]) => containers.push(...names);
  // Whatever a test made goes, whatever it asserted.
  afterEach(() => {
    if (containers.length) c(["rm", "-f", ...containers.splice(0)]);
    if (work) removeDir(work);
  });

  test("out of a stopped container: a file, a folder, a folder's contents, a new name; the caller owns them, modes and times are kept", async () => {
    work = tempDir();
    made("box");
    runDone("box", "mkdir -p /data/sub; echo hi > /data/a; chmod 640 /data/a; touch -d @1600000000 /data/a; chown 33:44 /data/a; ln -s a /data/l; echo deep > /data/sub/d");
    const mounts = hostMounts();

    expect(c(["cp", "box:/data/a", join(work, "a.txt")])).toMatchObject({ code: 0, stdout: "", stderr: "" });
    const a = statSync(join(work, "a.txt"));
    expect([readFileSync(join(work, "a.txt"), "utf8"), a.mode & 0o7777, a.uid, a.gid, a.mtimeMs]).toEqual(["hi\n", 0o640, 0, 0, 1600000000000]);

    expect(c(["cp", "box:/data", `${work}/`]).code).toBe(0);
    expect(treeListing(join(work, "data")).map((l) => l.split(" ")[0])).toEqual(["/a", "/l", "/sub", "/sub/d"]);
    expect(readlinkSync(join(work, "data/l"))).toBe("a");

    expect(c(["cp", "box:/data/.", join(work, "merged")]).code).toBe(0);
    expect(readFileSync(join(work, "merged/sub/d"), "utf8")).toBe("deep\n");

    expect(c(["cp", "-a", "box:/data/a", join(work, "kept")]).code).toBe(0);
    expect([statSync(join(work, "kept")).uid, statSync(join(work, "kept")).gid]).toEqual([33, 44]);

    const tar = cboxRaw(["cp", "box:/data", "-"]);
    expect(tar.code).toBe(0);
    expect((await readTar(tar.stdout)).map((i) => `${i.name} ${i.type} ${i.uid}:${i.gid} ${i.text}`)).toEqual([
      "data/ directory 0:0 ",
      "data/a file 33:44 hi\n",
      "data/l symlink 0:0 a",
      "data/sub/ directory 0:0 ",
      "data/sub/d file 0:0 deep\n",
    ]);
    // Its overlay was mounted for the copy only, in a namespace of its own: nothing stays, and it starts again.
    expect(hostMounts()).toEqual(mounts);
    expect(c(["start", "box"]).code).toBe(0);
  });

  test("into a stopped container: it sees the files at its next start, root's inside, or their own owners with -a", async () => {
    work = tempDir();
    made("inbox");
    runDone("inbox", "ls -ln /srv/app 2>&1; cat /srv/app/conf 2>&1; true");
    mkdirSync(join(work, "app/bin"), { recursive: true });
    writeFileSync(join(work, "app/conf"), "a=1\n");
    writeFileSync(join(work, "app/bin/run"), "#!/bin/sh\n", { mode: 0o4755 });
    chownSync(join(work, "app/conf"), 1234, 5678);
    expect(c(["cp", join(work, "app"), "inbox:/srv/"])).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(c(["cp", "-a", join(work, "app/conf"), "inbox:/srv/app/conf-a"]).code).toBe(0);
    expect(c(["start", "inbox"]).code).toBe(0);
    expect(c(["wait", "inbox"]).stdout).toBe("0\n");
    const log = c(["logs", "inbox"]).stdout;
    expect(log).toMatch(/drwxr-xr-x +\d+ 0 +0 .* bin\n/);
    expect(log).toMatch(/-rw-r--r-- +1 0 +0 .* conf\n/);
    expect(log).toMatch(/-rw-r--r-- +1 1234 +5678 .* conf-a\n/);
    expect(log).toContain("a=1\n");
    expect(statSync(join(upperOf("inbox"), "srv/app/bin/run")).mode & 0o7777).toBe(0o4755);
  });

  test("a running container: through its root, its volume too; exec sees what came in", () => {
    work = tempDir();
    made("live");
    mkdirSync(join(work, "vol"));
    writeFileSync(join(work, "vol/v"), "from the volume\n");
    writeFileSync(join(work, "in.txt"), "in\n");
    runDetached("live", "echo made > /tmp/made; touch /ready", ["-v", `${join(work, "vol")}:/vol`]);
    expect(c(["cp", join(work, "in.txt"), "live:/tmp/"]).code).toBe(0);
    expect(c(["exec", "live", "cat", "/tmp/in.txt"]).stdout).toBe("in\n");
    expect(c(["cp", "live:/vol/v", join(work, "v")]).code).toBe(0);
    expect(readFileSync(join(work, "v"), "utf8")).toBe("from the volume\n");
    expect(c(["cp", "live:/tmp/made", join(work, "made")]).code).toBe(0);
    expect(readFileSync(join(work, "made"), "utf8")).toBe("made\n");
  });

  test("-L copies what a link points to (inside the container); without it the link itself", async () => {
    made("linked");
    runDone("linked", "echo target > /t; ln -s /t /l");
    expect((await readTar(cboxRaw(["cp", "linked:/l", "-"]).stdout)).map((i) => [i.name, i.type, i.text])).toEqual([["l", "symlink", "/t"]]);
    expect((await readTar(cboxRaw(["cp", "-L", "linked:/l", "-"]).stdout)).map((i) => [i.name, i.type, i.text])).toEqual([["l", "file", "target\n"]]);
  });

  // A container's links are its own: followed inside its root, never onto the host, running or not.
  for (const running of [true, false]) {
    test(`hostile links in a ${running ? "running" : "stopped"} container lead nowhere outside it`, async () => {
      work = tempDir();
      made("hostile");
      const hostDir = join(work, "hostdir");
      mkdirSync(hostDir);
      writeFileSync(join(work, "probe"), "probe\n");
      const script = `ln -s / /x; ln -s ../../../../../../.. /up; ln -s ${hostDir} /hostdir; echo container-shadow > /etc/shadow; mkdir -p /tmp/in; touch /ready`;
      if (running) runDetached("hostile", script);
      else runDone("hostile", script);

      for (const path of ["/x/etc/shadow", "/up/etc/shadow", "/x/up/x/etc/../etc/shadow"]) {
        const items = await readTar(cboxRaw(["cp", `hostile:${path}`, "-"]).stdout);
        expect(items.map((i) => i.text)).toEqual(["container-shadow\n"]);
      }
      expect(c(["cp", join(work, "probe"), "hostile:/x/tmp/in/"]).code).toBe(0);
      expect(c(["cp", join(work, "probe"), "hostile:/up/probe-at-root"]).code).toBe(0);
      // The host folder a link names does not exist in the container: refused, the host's untouched.
      refused(c(["cp", join(work, "probe"), "hostile:/hostdir/"]), `/hostdir/: ${work} does not exist in container hostile`);
      refused(c(["cp", join(work, "probe"), "hostile:/hostdir/x/y"]), `/hostdir/x/y: ${work} does not exist in container hostile`);
      expect(readdirSync(hostDir)).toEqual([]);
      expect(existsSync("/probe-at-root")).toBe(false);
      expect(existsSync("/tmp/in/probe")).toBe(false);

      const upper = upperOf("hostile");
      expect(readFileSync(join(upper, "tmp/in/probe"), "utf8")).toBe("probe\n");
      expect(readFileSync(join(upper, "probe-at-root"), "utf8")).toBe("probe\n");
    });
  }

  test("- : a tar archive on stdout, and one from stdin into a folder, its links, modes and times kept", async () => {
    made("tarry");
    runDone("tarry", "mkdir /dest /dest-a");
    const archive = await makeTar(benignEntries);
    expect(cboxRaw(["cp", "-", "tarry:/dest"], { stdin: archive })).toMatchObject({ code: 0, stderr: "" });
    expect(cboxRaw(["cp", "-a", "-", "tarry:/dest-a"], { stdin: archive }).code).toBe(0);
    const out = await readTar(cboxRaw(["cp", "tarry:/dest/.", "-"]).stdout);
    const byName = new Map(out.map((i) => [i.name, i]));
    expect(byName.get("./bin/busybox")).toMatchObject({ type: "file", mode: 0o4755, text: "#!/bin/true\n" });
    expect(byName.get("./bin/ls")).toMatchObject({ type: "link", text: "./bin/busybox" });
    expect(byName.get("./usr/bin/env")).toMatchObject({ type: "symlink", text: "../../bin/busybox" });
    expect(byName.get("./home/user/notes")).toMatchObject({ uid: 0, gid: 0, mode: 0o600 });
    const kept = await readTar(cboxRaw(["cp", "tarry:/dest-a/home", "-"]).stdout);
    expect(kept.find((i) => i.name === "home/user/notes")).toMatchObject({ uid: 1234, gid: 5678 });
    const upper = upperOf("tarry");
    expect(statSync(join(upper, "dest/etc/motd")).mtimeMs).toBe(mtimeFile.getTime());
    expect(statSync(join(upper, "dest/root")).mtimeMs).toBe(mtimeDir.getTime());
  });

  test("hostile archives on stdin are refused before anything is written", async () => {
    work = tempDir();
    made("target");
    runDone("target", "mkdir /in");
    const before = treeListing(upperOf("target"));
    for (const hostile of hostileCases) {
      const dir = join(work, hostile.title.replace(/\W+/g, "-"));
      mkdirSync(join(dir, "symdir"), { recursive: true });
      writeFileSync(join(dir, "secret"), "secret\n");
      const h = hostile.build(dir);
      const r = cboxRaw(["cp", "-", "target:/in"], { stdin: await makeTar(h.entries) });
      const shown = h.entry.length > 100 ? `${h.entry.slice(0, 100)}...` : h.entry;
      expect(r.code, hostile.title).toBe(125);
      expect(r.stderr.startsWith(`cbox: refusing archive entry "${shown}": `), hostile.title).toBe(true);
      expect(r.stderr.split("\n"), hostile.title).toHaveLength(2);
      for (const path of h.mustNotExist) expect(existsSync(path), path).toBe(false);
      for (const path of h.mustKeepOneLink) expect(statSync(path).nlink, path).toBe(1);
    }
    expect(treeListing(upperOf("target"))).toEqual(before);
  });

  test("bad input: one line, 125, and neither the container nor the host changed", () => {
    work = tempDir();
    made("plain", "up");
    runDone("plain", "mkdir /dir; echo f > /file");
    runDetached("up", "touch /ready");
    writeFileSync(join(work, "file"), "x\n");
    mkdirSync(join(work, "dir"));
    const upper = treeListing(upperOf("plain"));
    const host = treeListing(work);
    const cases: [string[], string][] = [
      [["cp", "nosuch:/x", work], "no such container: nosuch"],
      [["cp", "plain:/nope", work], "/nope: no such file or folder in container plain"],
      [["cp", "plain:/file/", work], "/file/ is not a folder in container plain"],
      [["cp", "plain:/dir", join(work, "file")], `cannot copy a folder onto ${join(work, "file")}, which is not a folder`],
      [["cp", "plain:/file", join(work, "nope/")], `${join(work, "nope/")} does not exist: a trailing / names a folder to copy into, which must exist`],
      [["cp", "plain:/file", join(work, "nope/x")], `${join(work, "nope/x")}: ${join(work, "nope")} does not exist on this host`],
      [["cp", join(work, "dir"), "plain:/file"], "cannot copy a folder onto /file, which is not a folder"],
      [["cp", join(work, "file"), "plain:/nope/"], "/nope/ does not exist: a trailing / names a folder to copy into, which must exist"],
      [["cp", join(work, "missing"), "plain:/dir"], `${join(work, "missing")}: no such file or folder on this host`],
      [["cp", join(work, "dir"), "plain:/dir/dir/x/y"], "/dir/dir/x/y: /dir/dir does not exist in container plain"],
      [["cp", "plain:/file", "up:/tmp"], "cbox cp copies between a container and this host, not between two containers: copy out to a folder, then in"],
      [["cp", join(work, "file"), join(work, "dir")], "cbox cp needs a container on one side: CONTAINER:PATH (write a local path that holds a \":\" as ./NAME)"],
      [["cp", "plain:/file"], "cbox cp needs two arguments: cbox cp CONTAINER:SRC DEST, or cbox cp SRC CONTAINER:DEST"],
      [["cp", "plain:", work], 'cbox cp: "plain:" needs a path in the container after the ":"'],
      [["cp", "--bogus", "plain:/file", work], "unknown flag: --bogus"],
    ];
    for (const [args, line] of cases) refused(c(args), line);
    refused(cboxRaw(["cp", "-", "plain:/dir"], { stdin: Buffer.from("not a tar archive, just text that is long enough to read as one\n".repeat(20)) }), /^cbox: standard input is not a tar archive, or a damaged one \(.*\)\n$/);
    refused(cboxRaw(["cp", "-", "plain:/file"], { stdin: Buffer.alloc(0) }), "cbox cp -: standard input held no tar archive");
    expect(treeListing(upperOf("plain"))).toEqual(upper);
    expect(treeListing(work)).toEqual(host);
  });

  test("a terminal on stdout is refused, not filled with a tar archive", async () => {
    work = tempDir();
    made("tty");
    runDone("tty", "true");
    const session = new TerminalSession(["cp", "--root", fx.store, "tty:/etc/hosts", "-"], work);
    expect(await session.exitCode()).toBe(125);
    expect(session.screen).toContain("cbox: cbox cp CONTAINER:SRC - writes a tar archive, and standard output is a terminal: redirect it (> files.tar) or give a folder");
  });
});

describe.skipIf(!isRoot)("cbox diff and cbox export", () => {
  let work = "";
  const containers: string[] = [];
  afterEach(() => {
    if (containers.length) c(["rm", "-f", ...containers.splice(0)]);
    if (work) removeDir(work);
  });
  const script = "rm /etc/motd; echo changed >> /etc/profile; mkdir -p /new/d; echo x > /new/d/f; chown 33:44 /new/d/f; echo hi > /tmp/a; rm -rf /opt; mkdir /opt; touch /opt/fresh";

  test("diff: A, C and D in docker's order; a container that changed nothing has none", () => {
    containers.push("changer", "idle");
    runDone("idle", "true");
    expect(c(["diff", "idle"])).toEqual({ code: 0, stdout: "", stderr: "" });
    runDone("changer", script);
    expect(c(["diff", "changer"])).toEqual({
      code: 0,
      stderr: "",
      stdout: ["C /etc", "D /etc/motd", "C /etc/profile", "A /new", "A /new/d", "A /new/d/f", "D /opt", "A /opt/fresh", "C /tmp", "A /tmp/a", ""].join("\n"),
    });
  });

  test("diff of a running container, as it goes", () => {
    containers.push("going");
    runDetached("going", "echo 1 > /tmp/one; touch /ready");
    expect(c(["diff", "going"]).stdout.split("\n").filter(Boolean)).toEqual(["A /ready", "C /tmp", "A /tmp/one"]);
    expect(c(["exec", "going", "rm", "/tmp/one"]).code).toBe(0);
    expect(c(["diff", "going"]).stdout.split("\n").filter(Boolean)).toEqual(["A /ready", "C /tmp"]);
  });

  test("export: the container's whole tree, its deletions applied, owners as inside; -o FILE", async () => {
    work = tempDir();
    containers.push("exported");
    runDone("exported", script);
    const r = cboxRaw(["export", "exported"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const items = await readTar(r.stdout);
    const names = items.map((i) => i.name);
    expect(names).toContain("etc/passwd");
    expect(names).not.toContain("etc/motd");
    expect(names.filter((n) => n.startsWith("opt/"))).toEqual(["opt/", "opt/fresh"]);
    expect(items.find((i) => i.name === "new/d/f")).toMatchObject({ uid: 33, gid: 44, text: "x\n" });
    expect(items.find((i) => i.name === "etc/profile")!.text).toEndWith("changed\n");
    expect(items.find((i) => i.name === "bin/busybox")).toMatchObject({ type: "file", mode: 0o755 });
    // The image's files, less what the container deleted, plus what it added (and /etc/resolv.conf, cbox's mount point).
    const image = (readdirSync(fx.rootfs, { recursive: true }) as string[]).filter((n) => n !== "etc/motd");
    const added = ["etc/resolv.conf", "new", "new/d", "new/d/f", "opt/fresh", "tmp/a"];
    expect(names.map((n) => n.replace(/\/$/, "")).sort()).toEqual([...image, ...added].sort());
    expect(c(["export", "-o", join(work, "fs.tar"), "exported"])).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(join(work, "fs.tar"))).toEqual(Buffer.from(r.stdout));
    expect(readdirSync(work)).toEqual(["fs.tar"]);
  });

  test("diff and export: bad input is one line and 125, and leaves no file", async () => {
    work = tempDir();
    containers.push("some");
    runDone("some", "true");
    refused(c(["diff", "nosuch"]), "no such container: nosuch");
    refused(c(["diff"]), "cbox diff needs one container: cbox diff CONTAINER");
    refused(c(["diff", "some", "other"]), "cbox diff needs one container: cbox diff CONTAINER");
    refused(c(["export", "nosuch", "-o", join(work, "x.tar")]), "no such container: nosuch");
    refused(c(["export"]), "cbox export needs one container: cbox export [-o FILE] CONTAINER");
    refused(c(["export", "-o", join(work, "no/such/dir/x.tar"), "some"]), /^cbox: no such file or directory: .*no\/such\/dir\/x\.tar\.tmp-\d+\n$/);
    expect(readdirSync(work)).toEqual([]);
    // The whole archive written, then the rename onto -o fails (a folder there): its error, and no temporary file left.
    mkdirSync(join(work, "taken"));
    refused(c(["export", "-o", join(work, "taken"), "some"]), /^cbox: is a directory: .*taken\.tmp-\d+\n$/);
    expect(readdirSync(work)).toEqual(["taken"]);
    rmdirSync(join(work, "taken"));
    const session = new TerminalSession(["export", "--root", fx.store, "some"], work);
    expect(await session.exitCode()).toBe(125);
    expect(session.screen).toContain("cbox: cbox export writes a tar archive, and standard output is a terminal: give -o FILE or redirect it (cbox export CONTAINER > files.tar)");
  });
});

describe.skipIf(!isRoot)("--userns=private: owners as the container sees them", () => {
  const containers: string[] = [];
  let work = "";
  afterEach(() => {
    if (containers.length) c(["rm", "-f", ...containers.splice(0)]);
    if (work) removeDir(work);
  });

  test("cp in and out, diff and export of a container whose root is nobody on the host", async () => {
    chmodSync(fx.work, 0o755); // the container's root (a host id of the range) must reach the store
    work = tempDir();
    containers.push("priv");
    runDone("priv", "mkdir /data; echo hi > /data/f; chown 33:44 /data/f", ["--userns=private"]);
    writeFileSync(join(work, "in"), "in\n");
    chownSync(join(work, "in"), 1234, 5678);
    expect(c(["cp", join(work, "in"), "priv:/data/"]).code).toBe(0);
    expect(c(["cp", "-a", join(work, "in"), "priv:/data/in-a"]).code).toBe(0);
    const listed = await readTar(cboxRaw(["cp", "priv:/data", "-"]).stdout);
    expect(listed.map((i) => `${i.name} ${i.uid}:${i.gid}`)).toEqual(["data/ 0:0", "data/f 33:44", "data/in 0:0", "data/in-a 1234:5678"]);
    // On the host the container's ids are its range's.
    const upper = upperOf("priv");
    const base = statSync(upper).uid;
    expect(base).toBeGreaterThan(65535);
    expect([statSync(join(upper, "data/in")).uid, statSync(join(upper, "data/in-a")).uid, statSync(join(upper, "data/f")).uid]).toEqual([base, base + 1234, base + 33]);
    expect(c(["diff", "priv"]).stdout).toBe("A /data\nA /data/f\nA /data/in\nA /data/in-a\n");
    const exported = await readTar(cboxRaw(["export", "priv"]).stdout);
    expect(exported.find((i) => i.name === "data/f")).toMatchObject({ uid: 33, gid: 44 });
    expect(exported.find((i) => i.name === "etc/passwd")).toMatchObject({ uid: 0, gid: 0 });
    expect(c(["cp", "priv:/data/f", join(work, "out")]).code).toBe(0);
    expect(statSync(join(work, "out")).uid).toBe(0);
  });
});

describe.skipIf(!isRoot)("rootless: a user's containers and the other ids of their range", () => {
  const u = rootlessUserFixture("cbox-cp-user", 562144);
  const as = () => u.as;
  const rc = (args: string[]) => cbox([args[0]!, "--root", u.store, ...args.slice(1)], { as: as() });
  const containers: string[] = [];
  afterEach(() => {
    if (containers.length) rc(["rm", "-f", ...containers.splice(0)]);
  });
  // A folder closed to others, owned by an id of the range: the user cannot read it on the host.
  const script = "mkdir -p /home/bob/priv; echo secret > /home/bob/priv/f; chown -R 1000:1000 /home/bob; chmod 700 /home/bob/priv; chmod 600 /home/bob/priv/f";

  for (const running of [false, true]) {
    test(`cp out of and into a ${running ? "running" : "stopped"} container, as its root`, async () => {
      containers.push("mine");
      const r = rc(["run", ...(running ? ["-d"] : []), "--name", "mine", "--rootfs", u.rootfs, "sh", "-c", running ? `${script}; touch /ready; sleep 1000` : script]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      if (running) waitReady("mine", rc);
      // A folder copied to a name that does not exist yet: that name becomes the folder, yours.
      const out = join(u.work, "user", running ? "out-running" : "out-stopped");
      expect(rc(["cp", "mine:/home/bob", `${out}/`])).toMatchObject({ code: 0, stderr: "" });
      expect(readFileSync(join(out, "priv/f"), "utf8")).toBe("secret\n");
      expect([statSync(join(out, "priv/f")).uid, statSync(join(out, "priv")).uid, statSync(join(out, "priv")).mode & 0o777]).toEqual([u.as.uid, u.as.uid, 0o700]);
      refused(rc(["cp", "-a", "mine:/home/bob/priv/f", join(out, "fa")]), "cbox cp -a out of a container gives the files the container's owners, which only root may give here: leave -a out, and they are yours");
      expect(existsSync(join(out, "fa"))).toBe(false);

      writeFileSync(join(out, "note"), "note\n");
      chownSync(join(out, "note"), u.as.uid, u.as.gid);
      expect(rc(["cp", join(out, "note"), "mine:/home/bob/priv/"]).code).toBe(0);
      expect(rc(["cp", "-a", join(out, "note"), "mine:/home/bob/priv/note-a"]).code).toBe(0);
      const listed = await readTar(cboxRaw(["cp", "mine:/home/bob/priv", "-"], { as: as(), store: u.store }).stdout);
      expect(listed.map((i) => `${i.name} ${i.uid}:${i.gid}`)).toEqual(["priv/ 1000:1000", "priv/f 1000:1000", "priv/note 0:0", `priv/note-a ${u.as.uid}:${u.as.gid}`]);
    });
  }

  test("diff and export read what the range's ids own", async () => {
    containers.push("closed");
    expect(rc(["run", "--name", "closed", "--rootfs", u.rootfs, "sh", "-c", script]).code).toBe(0);
    expect(rc(["diff", "closed"]).stdout).toBe("C /home\nA /home/bob\nA /home/bob/priv\nA /home/bob/priv/f\n");
    const exported = await readTar(cboxRaw(["export", "closed"], { as: as(), store: u.store }).stdout);
    expect(exported.find((i) => i.name === "home/bob/priv/f")).toMatchObject({ uid: 1000, gid: 1000, mode: 0o600, text: "secret\n" });
    expect(exported.find((i) => i.name === "etc/passwd")).toMatchObject({ uid: 0, gid: 0 });
  });
});
