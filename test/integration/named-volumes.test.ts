// Named volumes, docker's way: -v NAME:/path and --mount type=volume made on first use and filled
// from the image when new, kept by rm -v and --rm, refused removal while a container uses them;
// cbox volume create, ls, inspect, rm and prune; as root, with --userns=private, and rootless.
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildRootfs, cbox, isRoot, removeDir, rootfsFixture, rootlessUserFixture, tempDir, treeListing, type Result, type RunAs } from "./helpers.ts";
import { TerminalSession } from "./terminal.ts";

const fx = rootfsFixture();
const user = rootlessUserFixture("cbox-volumes", 2_000_000);
const RULE = "two or more of a-z A-Z 0-9 _ . -, the first a letter or digit";
/** An image with files at /srv/data: seed (root's) and sub/deep (uid 1000's). */
const IMAGE = "seeded:1";
let tarball: string;

beforeAll(() => {
  if (!isRoot) return;
  chmodSync(fx.work, 0o755); // --userns=private: the range's root must reach the store
  // In the rootless user's folder (0755), so that user can import it too.
  const tree = buildRootfs(join(user.work, "seeded"));
  mkdirSync(join(tree, "srv/data/sub"), { recursive: true });
  writeFileSync(join(tree, "srv/data/seed"), "from-image\n");
  writeFileSync(join(tree, "srv/data/sub/deep"), "deep\n");
  chownSync(join(tree, "srv/data/sub/deep"), 1000, 1000);
  tarball = join(user.work, "seeded.tar.gz");
  expect(Bun.spawnSync(["tar", "-C", tree, "-czf", tarball, "."]).exitCode).toBe(0);
  chmodSync(tarball, 0o644);
  expect(cbox(["import", "--root", fx.store, tarball, IMAGE]).code).toBe(0);
});

/** cbox COMMAND --root STORE ARGS... */
function c(args: string[], opts: { root?: string; as?: RunAs } = {}): Result {
  return cbox([args[0]!, ...(args[0] === "volume" ? [args[1]!] : []), "--root", opts.root ?? fx.store, ...args.slice(args[0] === "volume" ? 2 : 1)], { as: opts.as });
}

const ok = (stdout: string) => ({ code: 0, stdout, stderr: "" });
const refused = (message: string) => ({ code: 125, stdout: "", stderr: `cbox: ${message}\n` });
const volumeNames = (root = fx.store) => c(["volume", "ls", "-q"], { root }).stdout.split("\n").filter(Boolean);
const dataOf = (name: string, root = fx.store) => join(root, "volumes", name, "_data");

/** Runs body, then removes the containers (and their anonymous volumes) and the named volumes, whatever happened. */
async function cleaned(containers: string[], volumes: string[], body: () => unknown, opts: { root?: string; as?: RunAs } = {}): Promise<void> {
  try {
    await body();
  } finally {
    for (const container of containers) c(["rm", "-f", "-v", container], opts); // one by one: a missing one stops none
    if (volumes.length) c(["volume", "rm", "-f", ...volumes], opts);
  }
}

describe.skipIf(!isRoot)("named volumes as root", () => {
  test("made on first use: what one container writes the next reads; :ro and readonly refuse writes", async () => {
    await cleaned([], ["shared"], () => {
      expect(volumeNames()).not.toContain("shared");
      const write = c(["run", "--rm", "--network", "none", "-v", "shared:/data", "--rootfs", fx.rootfs, "sh", "-c", "echo written > /data/f; grep -c ' /data ' /proc/self/mountinfo"]);
      expect(write).toEqual(ok("1\n"));
      expect(readFileSync(join(dataOf("shared"), "f"), "utf8")).toBe("written\n");
      const read = c(["run", "--rm", "--network", "none", "--mount", "type=volume,source=shared,target=/m", "--rootfs", fx.rootfs, "cat", "/m/f"]);
      expect(read).toEqual(ok("written\n"));
      for (const mount of [["-v", "shared:/m:ro"], ["--mount", "type=volume,src=shared,dst=/m,readonly"]]) {
        const ro = c(["run", "--rm", "--network", "none", ...mount, "--rootfs", fx.rootfs, "sh", "-c", "cat /m/f; touch /m/new 2>&1; echo $?"]);
        expect(ro).toEqual(ok("written\ntouch: /m/new: Read-only file system\n1\n"));
      }
      expect(existsSync(join(dataOf("shared"), "new"))).toBe(false);
      expect(volumeNames()).toContain("shared");
    });
  });

  test("a new volume is filled from the image (owners kept); a used one is never overwritten; an empty one is filled", async () => {
    await cleaned([], ["fresh", "empty"], () => {
      const first = c(["run", "--rm", "--network", "none", "-v", "fresh:/srv/data", IMAGE, "sh", "-c", "cat /srv/data/seed; stat -c '%u:%g %n' /srv/data/sub/deep; echo mine > /srv/data/seed; rm /srv/data/sub/deep"]);
      expect(first).toEqual(ok("from-image\n1000:1000 /srv/data/sub/deep\n"));
      expect(lstatSync(join(dataOf("fresh"), "sub")).isDirectory()).toBe(true);
      const again = c(["run", "--rm", "--network", "none", "-v", "fresh:/srv/data", IMAGE, "sh", "-c", "cat /srv/data/seed; ls /srv/data/sub"]);
      expect(again).toEqual(ok("mine\n"));
      // Made by volume create, empty: the first container of the image fills it, as docker does.
      expect(c(["volume", "create", "empty"])).toEqual(ok("empty\n"));
      expect(readdirSync(dataOf("empty"))).toEqual([]);
      expect(c(["run", "--rm", "--network", "none", "-v", "empty:/srv/data", IMAGE, "cat", "/srv/data/seed"])).toEqual(ok("from-image\n"));
      // A volume on a path the image does not have stays empty.
      expect(c(["run", "--rm", "--network", "none", "-v", "fresh:/nothing/here", IMAGE, "cat", "/nothing/here/seed"])).toEqual(ok("mine\n"));
    });
  });

  test("--userns=private: a new volume's files belong to the range, as the container's own files do", async () => {
    await cleaned([], ["private"], () => {
      const r = c(["run", "--rm", "--network", "none", "--userns=private", "-v", "private:/srv/data", IMAGE, "sh", "-c", "stat -c '%u:%g' /srv/data /srv/data/seed /srv/data/sub/deep; touch /srv/data/made"]);
      expect(r).toEqual(ok("0:0\n0:0\n1000:1000\n"));
      const owner = (p: string) => `${lstatSync(p).uid}:${lstatSync(p).gid}`;
      const made = lstatSync(join(dataOf("private"), "made"));
      expect(made.uid).toBeGreaterThan(65535); // the range's root, not the host's
      expect([owner(dataOf("private")), owner(join(dataOf("private"), "seed"))]).toEqual([owner(join(dataOf("private"), "made")), owner(join(dataOf("private"), "made"))]);
      expect(owner(join(dataOf("private"), "sub/deep"))).toBe(`${made.uid + 1000}:${made.gid + 1000}`);
      // Used again by a container of the range: nothing is shifted twice.
      expect(c(["run", "--rm", "--network", "none", "--userns=private", "-v", "private:/srv/data", IMAGE, "stat", "-c", "%u", "/srv/data", "/srv/data/made"])).toEqual(ok("0\n0\n"));
    });
  });

  test("inspect shows the volume's name; rm is refused while a container uses it, running or stopped, even with -f", async () => {
    await cleaned(["holder"], ["held"], () => {
      const id = c(["run", "-d", "--name", "holder", "--network", "none", "-v", "held:/h", "-v", `${fx.work}:/bound:ro`, "--rootfs", fx.rootfs, "sleep", "300"]).stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const [inspected] = JSON.parse(c(["inspect", "holder"]).stdout);
      expect(inspected.Mounts).toEqual([
        { Type: "volume", Name: "held", Source: dataOf("held"), Destination: "/h", Driver: "local", RW: true },
        { Type: "bind", Source: fx.work, Destination: "/bound", RW: false },
      ]);
      const inUse = refused(`volume held is in use by container holder (${id.slice(0, 12)}); remove it first (cbox rm)`);
      expect(c(["volume", "rm", "held"])).toEqual(inUse);
      expect(c(["volume", "rm", "-f", "held"])).toEqual(inUse);
      expect(c(["volume", "prune", "-f", "-a"])).toEqual(ok("Total reclaimed space: 0B\n"));
      expect(c(["stop", "-t", "0", "holder"]).code).toBe(0);
      expect(c(["volume", "rm", "held"])).toEqual(inUse);
      expect(volumeNames()).toContain("held");
    });
    expect(volumeNames()).not.toContain("held");
  });

  test("rm -v and run --rm remove a container's anonymous volumes, never its named ones", async () => {
    const before = volumeNames();
    await cleaned(["keeper"], ["named-a", "named-b"], () => {
      const run = c(["run", "--name", "keeper", "--network", "none", "-v", "named-a:/a", "-v", "/anon1", "--mount", "type=volume,target=/anon2", IMAGE, "sh", "-c", "touch /a/x /anon1/x /anon2/x"]);
      expect(run).toEqual(ok(""));
      const made = volumeNames().filter((v) => !before.includes(v));
      expect(made.filter((v) => v !== "named-a")).toHaveLength(2);
      expect(made.filter((v) => v !== "named-a").every((v) => /^[0-9a-f]{64}$/.test(v))).toBe(true);
      const [inspected] = JSON.parse(c(["inspect", "keeper"]).stdout);
      expect(inspected.Mounts.map((m: { Type: string; Name: string }) => [m.Type, m.Name]).sort()).toEqual(made.map((v) => ["volume", v]).sort());
      expect(c(["rm", "-v", "keeper"])).toEqual(ok("keeper\n"));
      expect(volumeNames().filter((v) => !before.includes(v))).toEqual(["named-a"]);
      expect(readdirSync(dataOf("named-a"))).toEqual(["x"]);
      const removed = c(["run", "--rm", "--network", "none", "-v", "named-b:/b", "-v", "/anon", IMAGE, "touch", "/b/y", "/anon/y"]);
      expect(removed).toEqual(ok(""));
      expect(volumeNames().filter((v) => !before.includes(v))).toEqual(["named-a", "named-b"]);
    });
  });

  test("volume create, ls and inspect: docker's output", async () => {
    const root = join(fx.work, "list-store");
    let random = "";
    await cleaned([], [], () => {
      expect(c(["volume", "create", "--label", "team=db", "--label", "tier", "web-data"], { root })).toEqual(ok("web-data\n"));
      expect(c(["volume", "create", "--label", "team=db", "--label", "tier", "web-data"], { root })).toEqual(ok("web-data\n"));
      const made = c(["volume", "create"], { root });
      expect(made.stdout).toMatch(/^[0-9a-f]{64}\n$/);
      random = made.stdout.trim();
      const sorted = ["web-data", random].sort();
      expect(c(["volume", "ls"], { root })).toEqual(ok(`DRIVER   VOLUME NAME\n${sorted.map((n) => `local    ${n}\n`).join("")}`));
      expect(c(["volume", "list", "-q"], { root })).toEqual(ok(sorted.map((n) => `${n}\n`).join("")));
      const json = c(["volume", "ls", "--format", "json"], { root }).stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(json.find((v) => v.Name === "web-data")).toEqual({ Driver: "local", Labels: "team=db,tier=", Mountpoint: dataOf("web-data", root), Name: "web-data", Scope: "local" });
      const inspected = JSON.parse(c(["volume", "inspect", "web-data", random], { root }).stdout);
      expect(inspected.map((v: { Name: string }) => v.Name)).toEqual(["web-data", random]);
      expect(inspected[0]).toEqual({ CreatedAt: inspected[0].CreatedAt, Driver: "local", Labels: { team: "db", tier: "" }, Mountpoint: dataOf("web-data", root), Name: "web-data", Options: {}, Scope: "local" });
      expect(Math.abs(Date.parse(inspected[0].CreatedAt) - Date.now())).toBeLessThan(600_000);
      expect(inspected[1].Labels).toEqual({});
      expect(c(["volume", "rm", "web-data", random], { root })).toEqual(ok(`web-data\n${random}\n`));
      expect(c(["volume", "ls"], { root })).toEqual(ok("DRIVER   VOLUME NAME\n"));
    });
    removeDir(root);
  });

  test("prune: unused anonymous volumes (-a: named ones too), docker's report; without -f it asks on a terminal", async () => {
    const root = join(fx.work, "prune-store");
    const run = (...args: string[]) => c(["run", "--network", "none", ...args, "--rootfs", fx.rootfs, "sh", "-c", "echo 12345 > /v/f"], { root });
    const anonymous = () => volumeNames(root).filter((v) => /^[0-9a-f]{64}$/.test(v));
    await cleaned(["user1", "user2"], [], async () => {
      expect(run("--name", "user1", "-v", "/v").code).toBe(0);
      const kept = anonymous();
      expect(run("--rm", "-v", "named:/v").code).toBe(0);
      expect(run("--name", "user2", "-v", "/v").code).toBe(0);
      const dropped = anonymous().filter((v) => !kept.includes(v));
      expect(c(["rm", "user2"], { root }).code).toBe(0); // without -v: its anonymous volume stays, unused
      expect(volumeNames(root).sort()).toEqual([...kept, ...dropped, "named"].sort());

      // Without a terminal and without -f: refused, nothing removed.
      expect(c(["volume", "prune"], { root })).toEqual(refused("standard input is not a terminal, so cbox cannot ask for confirmation: give -f to go ahead without asking"));
      const dir = tempDir();
      try {
        const no = new TerminalSession(["volume", "prune", "--root", root], dir);
        await no.until("[y/N] ");
        no.type("n\r");
        expect(await no.exitCode()).toBe(0);
        expect(no.screen).not.toContain("Deleted");
        expect(volumeNames(root).sort()).toEqual([...kept, ...dropped, "named"].sort());
        const yes = new TerminalSession(["volume", "prune", "--root", root], dir);
        await yes.until("[y/N] ");
        yes.type("y\r");
        expect(await yes.exitCode()).toBe(0);
        expect(yes.screen).toContain(`Deleted Volumes:\r\n${dropped[0]}\r\n\r\nTotal reclaimed space: 6B\r\n`);
      } finally {
        removeDir(dir);
      }
      expect(volumeNames(root).sort()).toEqual([...kept, "named"].sort());
      expect(c(["volume", "prune", "-f"], { root })).toEqual(ok("Total reclaimed space: 0B\n"));
      expect(c(["volume", "prune", "-f", "--all"], { root })).toEqual(ok("Deleted Volumes:\nnamed\n\nTotal reclaimed space: 6B\n"));
      expect(volumeNames(root)).toEqual(kept);
    }, { root });
    expect(volumeNames(root)).toEqual([]);
    removeDir(root);
  });

  test("bad input: one line, 125, nothing made or removed", () => {
    const store = join(fx.work, "bad-store");
    expect(c(["volume", "create", "in-use"], { root: store }).code).toBe(0);
    expect(c(["run", "--name", "user", "--network", "none", "-v", "in-use:/u", "--rootfs", fx.rootfs, "true"], { root: store }).code).toBe(0);
    const before = treeListing(store, false);
    const cases: [string[], string][] = [
      [["volume", "create", "x"], `volume name "x" is not valid: ${RULE}`],
      [["volume", "create", "a/b"], `volume name "a/b" is not valid: ${RULE}`],
      [["volume", "create", ".hidden"], `volume name ".hidden" is not valid: ${RULE}`],
      [["volume", "create", "one", "two"], "cbox volume create takes at most one name (got 2)"],
      [["volume", "create", "--label", "=v", "lab"], '--label "=v": expected KEY=VALUE'],
      [["volume", "create", "--driver", "nfs", "nfs-vol"], '--driver "nfs": cbox has only the local driver'],
      [["volume", "create", "--label", "other=1", "in-use"], "volume in-use exists already, with other labels; remove it first (cbox volume rm in-use) or give its labels"],
      [["volume", "inspect", "nope"], "no such volume: nope"],
      [["volume", "inspect", "in-use", "../containers"], "no such volume: ../containers"],
      [["volume", "inspect"], "cbox volume inspect needs at least one volume"],
      [["volume", "rm", "nope"], "no such volume: nope"],
      [["volume", "rm", "in-use", "nope"], "no such volume: nope"],
      [["volume", "rm"], "cbox volume rm needs at least one volume"],
      [["volume", "rm", "in-use"], `volume in-use is in use by container user (${c(["ps", "-a", "-q"], { root: store }).stdout.trim()}); remove it first (cbox rm)`],
      [["volume", "ls", "--format", "yaml"], '--format "yaml": use table or json'],
      [["volume", "ls", "extra"], "cbox volume ls takes no operands (got extra)"],
      [["volume", "prune", "-f", "extra"], "cbox volume prune takes no operands (got extra)"],
      [["volume", "prune", "--bogus"], "unknown flag: --bogus"],
      [["volume", "bogus"], 'unknown command "volume bogus"; see cbox volume --help'],
      [["run", "--rm", "-v", "a:/x", "--rootfs", fx.rootfs, "true"], `-v a:/x: "a" is neither an absolute host path nor a volume name (${RULE})`],
      [["run", "--rm", "-v", "bad name:/x", "--rootfs", fx.rootfs, "true"], `-v bad name:/x: "bad name" is neither an absolute host path nor a volume name (${RULE})`],
      [["run", "--rm", "-v", "newvol:rel", "--rootfs", fx.rootfs, "true"], "-v newvol:rel: the container path must be absolute"],
      [["run", "--rm", "-v", "newvol:/x:z", "--rootfs", fx.rootfs, "true"], '-v newvol:/x:z: unknown option "z" (ro or rw)'],
      [["run", "--rm", "-v", "newvol:/x", "-v", "other:/x", "--rootfs", fx.rootfs, "true"], "/x: two mounts on the same container path"],
      [["run", "--rm", "--mount", "type=volume,src=a/b,dst=/x", "--rootfs", fx.rootfs, "true"], `--mount type=volume,src=a/b,dst=/x: "a/b" is not a volume name (${RULE}); a host path is type=bind`],
      [["run", "--rm", "--mount", "type=volume,src=newvol,dst=/x,tmpfs-size=1m", "--rootfs", fx.rootfs, "true"], "--mount type=volume,src=newvol,dst=/x,tmpfs-size=1m: tmpfs-size and tmpfs-mode are for type=tmpfs"],
      [["run", "--rm", "--mount", "type=volume,src=newvol", "--rootfs", fx.rootfs, "true"], "--mount type=volume,src=newvol: target= is required"],
      [["run", "--rm", "--mount", "type=bind,src=newvol,dst=/x", "--rootfs", fx.rootfs, "true"], "--mount type=bind,src=newvol,dst=/x: type=bind needs an absolute host path as source (a volume's name: type=volume)"],
    ];
    for (const [args, message] of cases) expect({ args, ...c(args, { root: store }) }).toEqual({ args, ...refused(message) });
    expect(treeListing(store, false)).toEqual(before);
    // A start that fails after its new volume was made takes it away again, with the container.
    for (const rm of [["--rm"], []]) {
      const failed = c(["run", ...rm, "--network", "none", "-v", "born:/x", "-v", "/anon", "--rootfs", fx.rootfs, "/no/such/command"], { root: store });
      expect(failed).toEqual({ code: 127, stdout: "", stderr: 'cbox: exec "/no/such/command": no such file or directory\n' });
    }
    expect(treeListing(store, false)).toEqual(before);
    expect(c(["rm", "user"], { root: store }).code).toBe(0);
    removeDir(store);
  });
});

describe.skipIf(!isRoot)("named volumes rootless", () => {
  const u = (args: string[]) => c(args, { root: user.store, as: user.as });

  test("made on first use and filled from the image; files chowned to subordinate ids are removed with the volume", async () => {
    await cleaned([], ["user-data"], () => {
      expect(u(["import", tarball, IMAGE]).code).toBe(0);
      const first = u(["run", "--rm", "-v", "user-data:/srv/data", IMAGE, "sh", "-c", "cat /srv/data/seed; echo mine > /srv/data/mine; chown -R 1000:1000 /srv/data/sub; stat -c '%u:%g' /srv/data /srv/data/sub/deep"]);
      expect(first).toEqual(ok("from-image\n0:0\n1000:1000\n"));
      // On the host: the user's own files, and the subordinate id 1000 maps to.
      const data = dataOf("user-data", user.store);
      expect(lstatSync(join(data, "mine")).uid).toBe(user.as.uid);
      expect(lstatSync(join(data, "sub/deep")).uid).toBe(2_000_000 + 999);
      expect(u(["run", "--rm", "--mount", "type=volume,src=user-data,dst=/d,readonly", IMAGE, "sh", "-c", "cat /d/mine /d/sub/deep; touch /d/x 2>&1; true"])).toEqual(
        ok("mine\ndeep\ntouch: /d/x: Read-only file system\n"),
      );
      expect(u(["volume", "ls", "-q"])).toEqual(ok("user-data\n"));
      expect(u(["volume", "rm", "user-data"])).toEqual(ok("user-data\n"));
      expect(existsSync(join(user.store, "volumes", "user-data"))).toBe(false);
    }, { root: user.store, as: user.as });
  });

  test("rm refused while used; rm -v keeps the named volume; prune -a removes what no container uses", async () => {
    await cleaned(["user-box"], ["user-kept"], () => {
      const run = u(["run", "--name", "user-box", "-v", "user-kept:/k", "-v", "/anon", "--rootfs", user.rootfs, "sh", "-c", "touch /k/x /anon/y; chown 1000 /anon/y"]);
      expect(run).toEqual(ok(""));
      const id = u(["ps", "-a", "-q"]).stdout.trim();
      expect(u(["volume", "rm", "user-kept"])).toEqual(refused(`volume user-kept is in use by container user-box (${id}); remove it first (cbox rm)`));
      expect(u(["volume", "ls", "-q"]).stdout.split("\n").filter(Boolean)).toHaveLength(2);
      expect(u(["rm", "-v", "user-box"])).toEqual(ok("user-box\n"));
      expect(u(["volume", "ls", "-q"])).toEqual(ok("user-kept\n"));
      expect(u(["volume", "prune", "-f", "-a"])).toEqual(ok("Deleted Volumes:\nuser-kept\n\nTotal reclaimed space: 0B\n"));
      expect(readdirSync(join(user.store, "volumes"))).toEqual([]);
    }, { root: user.store, as: user.as });
  });
});
