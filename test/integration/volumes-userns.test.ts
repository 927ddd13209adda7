// -v volumes, and --userns=private: root's containers on a range of host ids of their own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cbox, hostMounts, isRoot, rootfsFixture, treeListing } from "./helpers.ts";

const fx = rootfsFixture();
const DEFAULT_START = 1073741824;
const CBOX_START = 300000;

let tarball: string;
let savedSubuid = "";
let savedSubgid = "";

function readOr(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

beforeAll(() => {
  if (!isRoot) return;
  chmodSync(fx.work, 0o755); // the container's root (a host id of the range) must reach the store
  tarball = join(fx.work, "alpine.tar.gz");
  const res = Bun.spawnSync(["sh", "rootfs/build.sh", join(fx.work, "packed"), tarball], { stderr: "pipe" });
  if (res.exitCode !== 0) throw new Error(res.stderr.toString());
  savedSubuid = readOr("/etc/subuid");
  savedSubgid = readOr("/etc/subgid");
});

afterAll(() => {
  if (!isRoot) return;
  writeFileSync("/etc/subuid", savedSubuid);
  writeFileSync("/etc/subgid", savedSubgid);
});

function volumeDir(name: string, mode = 0o755): string {
  const dir = join(fx.work, name);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, mode);
  return dir;
}

const run = (args: string[], env?: Record<string, string>) => cbox(["run", "--rm", "--root", fx.store, ...args], { env });
const onRootfs = (...args: string[]) => ["--rootfs", fx.rootfs, ...args];

/** Bytes the store takes on disk. */
function storeBytes(store: string): number {
  const res = Bun.spawnSync(["du", "-s", "--block-size=1", store]);
  return Number(res.stdout.toString().split("\t")[0]);
}

const storeMounts = () => hostMounts().filter((m) => m.startsWith(fx.work));

describe.skipIf(!isRoot)("-v HOST:CONTAINER[:ro]", () => {
  test("a folder: written inside, seen on the host; the container's path is made", () => {
    const dir = volumeDir("vol-rw");
    const res = run(onRootfs("-v", `${dir}:/data/deep`, "sh", "-c", "echo from-inside > /data/deep/f; cat /data/deep/f"));
    expect(res).toEqual({ code: 0, stdout: "from-inside\n", stderr: "" });
    expect(readFileSync(join(dir, "f"), "utf8")).toBe("from-inside\n");
  });

  test(":ro refuses writes; a file binds onto a file", () => {
    const dir = volumeDir("vol-ro");
    writeFileSync(join(dir, "config"), "setting=1\n");
    const res = run(onRootfs("-v", `${dir}:/ro:ro`, "-v", `${join(dir, "config")}:/etc/app.conf`, "sh", "-c", "cat /etc/app.conf; touch /ro/x 2>&1; echo $?"));
    expect(res.stdout).toBe("setting=1\ntouch: /ro/x: Read-only file system\n1\n");
    expect(existsSync(join(dir, "x"))).toBe(false);
  });

  test("a symlink in the image cannot lead a volume's path onto the host", () => {
    const dir = volumeDir("vol-link");
    const victim = volumeDir("victim");
    const image = join(fx.work, "linked-rootfs");
    Bun.spawnSync(["cp", "-a", fx.rootfs, image]);
    Bun.spawnSync(["ln", "-s", victim, join(image, "escape")]);
    const res = run(["--rootfs", image, "-v", `${dir}:/escape/made`, "sh", "-c", "test -d /escape/made && echo inside"]);
    // the link resolves inside the container, where the host's folder does not exist
    expect(res.code).toBe(125);
    expect(res.stderr).toBe("cbox: mkdir /escape/made: no such file or directory\n");
    expect(readdirSync(victim)).toEqual([]);
  });

  test("bad volumes: one line, 125, nothing made", () => {
    const missing = join(fx.work, "no-such-dir");
    const cases: [string, string][] = [
      [`${missing}:/x`, `cbox: -v ${missing}:/x: ${missing} does not exist\n`],
      ["rel/path:/x", 'cbox: -v rel/path:/x: "rel/path" is neither an absolute host path nor a volume name (two or more of a-z A-Z 0-9 _ . -, the first a letter or digit)\n'],
      [`${fx.work}:relative`, `cbox: -v ${fx.work}:relative: the container path must be absolute\n`],
      [`${fx.work}:/`, `cbox: -v ${fx.work}:/: cannot mount over the container's /\n`],
      [`${fx.work}:/x:z`, `cbox: -v ${fx.work}:/x:z: unknown option "z" (ro or rw)\n`],
      ["only-one-part", "cbox: -v only-one-part: the container path must be absolute\n"],
      [`${fx.work}:/x:ro:more`, `cbox: -v ${fx.work}:/x:ro:more: expected [HOST-PATH|VOLUME:]CONTAINER-PATH[:ro]\n`],
    ];
    const before = treeListing(fx.store, false);
    for (const [volume, stderr] of cases) expect(run(onRootfs("-v", volume, "true"))).toEqual({ code: 125, stdout: "", stderr });
    expect(existsSync(missing)).toBe(false);
    expect(treeListing(fx.store, false)).toEqual(before);
  });
});

describe.skipIf(!isRoot)("--userns=private", () => {
  test("root inside is the range's first id on the host: uid_map, and a file made in a volume", () => {
    writeFileSync("/etc/subuid", savedSubuid.replace(/^cbox:.*\n/m, ""));
    writeFileSync("/etc/subgid", savedSubgid.replace(/^cbox:.*\n/m, ""));
    const dir = volumeDir("vol-private", 0o777);
    const res = run(onRootfs("--userns=private", "-v", `${dir}:/data`, "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /data/made; stat -c %u:%g /bin/busybox"));
    expect(res.stderr).toBe("");
    const lines = res.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    expect(lines).toEqual([`0 ${DEFAULT_START} 65536`, `0 ${DEFAULT_START} 65536`, "0", "0:0"]);
    const made = statSync(join(dir, "made"));
    expect([made.uid, made.gid]).toEqual([DEFAULT_START, DEFAULT_START]);
    expect(storeMounts()).toEqual([]);
  });

  test("the cbox entry of /etc/subuid and /etc/subgid gives the range", () => {
    writeFileSync("/etc/subuid", `${savedSubuid}cbox:${CBOX_START}:65536\n`);
    writeFileSync("/etc/subgid", `${savedSubgid}cbox:${CBOX_START + 65536}:65536\n`);
    try {
      const res = run(onRootfs("--userns=private", "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"));
      const lines = res.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
      expect(lines).toEqual([`0 ${CBOX_START} 65536`, `0 ${CBOX_START + 65536} 65536`]);
    } finally {
      writeFileSync("/etc/subuid", savedSubuid);
      writeFileSync("/etc/subgid", savedSubgid);
    }
  });

  for (const [label, env, copies] of [
    ["with idmapped mounts", {}, 0],
    ["with the chowned copy (CBOX_IDMAP=0)", { CBOX_IDMAP: "0" }, 1],
  ] as const) {
    test(`${label}: a second container of the image adds no copy of it`, () => {
      const store = join(fx.work, `store-${copies}`);
      expect(cbox(["import", "--root", store, tarball, "alpine:private"]).code).toBe(0);
      const imageDir = join(store, "images", readdirSync(join(store, "images")).find((n) => /^[0-9a-f]{64}$/.test(n))!);
      const imageBytes = storeBytes(join(imageDir, "rootfs"));
      const sizes = [storeBytes(store)];
      for (let i = 0; i < 2; i++) {
        const res = cbox(["run", "--rm", "--root", store, "--userns=private", "alpine:private", "sh", "-c", "touch /etc/x; stat -c %u /bin/busybox /etc/x"], { env });
        expect(res).toEqual({ code: 0, stdout: "0\n0\n", stderr: "" });
        sizes.push(storeBytes(store));
      }
      const shifted = readdirSync(imageDir).filter((n) => n.startsWith("rootfs-"));
      expect(shifted).toEqual(copies ? [`rootfs-${DEFAULT_START}-${DEFAULT_START}`] : []);
      // the first start may make the one copy; the second adds less than a tenth of the image
      expect(sizes[1]! - sizes[0]!).toBeLessThan(copies * imageBytes + imageBytes / 10);
      expect(sizes[2]! - sizes[1]!).toBeLessThan(imageBytes / 10);
      expect(storeMounts()).toEqual([]);
    });
  }

  test("bad input: one line, 125, nothing left", () => {
    const before = treeListing(fx.store, false);
    expect(run(onRootfs("--userns=other", "true"))).toEqual({ code: 125, stdout: "", stderr: 'cbox: --userns "other": expected host or private\n' });
    expect(run(onRootfs("--userns=private", "true"), { CBOX_USERNS_START: "lots" })).toEqual({
      code: 125,
      stdout: "",
      stderr: "cbox: --userns=private: CBOX_USERNS_START=lots: expected a number from 1 that leaves room for 65536 ids\n",
    });
    const res = cbox(["run", "--rm", "--root", join(fx.work, "nobody-store"), "--userns=private", ...onRootfs("true")], {
      as: { uid: 65534, gid: 65534, home: "/nonexistent" },
    });
    expect(res).toEqual({
      code: 125,
      stdout: "",
      stderr: "cbox: --userns=private is for root: an ordinary user's containers always have a user namespace of their own\n",
    });
    expect(treeListing(fx.store, false)).toEqual(before);
    expect(existsSync(join(fx.work, "nobody-store"))).toBe(false);
  });

  test("--rootfs on a filesystem without idmapped mounts is refused, naming what to do", () => {
    const res = run(onRootfs("--userns=private", "true"), { CBOX_IDMAP: "0" });
    expect(res.code).toBe(125);
    expect(res.stderr).toBe(
      `cbox: --userns=private: ${fx.rootfs} cannot be idmapped here (its filesystem cannot, or CBOX_IDMAP=0); import it as an image (cbox import) so cbox can keep a copy for the range\n`,
    );
  });
});
