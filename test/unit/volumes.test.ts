// Named and anonymous volumes: -v and --mount as docker reads them, the volume store, filling a
// new volume from the image, and what `cbox volume` prints.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { placeVolumes } from "../../src/container/volume-use.ts";
import { isEmptyFolder, seedVolume } from "../../src/container/volume-seed.ts";
import { createNamedVolume, formatVolumes, inspectVolumes, pruneVolumes, removeVolumes } from "../../src/container/volume-commands.ts";
import { ANONYMOUS_LABEL, createVolume, listVolumes, readVolume, volumeData, volumeUsers } from "../../src/container/volume-store.ts";
import { parseMount, parseVolume } from "../../src/container/volumes.ts";
import type { Volume } from "../../src/container/spec.ts";
import { storagePaths, type Paths } from "../../src/paths.ts";
import { thrown } from "./helpers.ts";

let tmp: string;
let paths: Paths;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "cbox-volumes-"));
  paths = storagePaths(join(tmp, "store"));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const RULE = "two or more of a-z A-Z 0-9 _ . -, the first a letter or digit";

describe("-v and --mount type=volume", () => {
  test("NAME:PATH is a named volume, PATH alone an anonymous one, /HOST:PATH a bound folder", () => {
    expect(parseVolume("data:/srv/data")).toEqual({ source: "", target: "/srv/data", readonly: false, isFile: false, name: "data" });
    expect(parseVolume("my_vol.1-x:/x/:ro")).toEqual({ source: "", target: "/x", readonly: true, isFile: false, name: "my_vol.1-x" });
    expect(parseVolume("/cache")).toEqual({ source: "", target: "/cache", readonly: false, isFile: false, anonymous: true });
    expect(parseVolume(`${tmp}:/h:rw`)).toEqual({ source: tmp, target: "/h", readonly: false, isFile: false });
  });

  test("--mount type=volume with a source names it; without, an anonymous one", () => {
    expect(parseMount("type=volume,source=data,target=/d,readonly")).toEqual({ kind: "volume", volume: { source: "", target: "/d", readonly: true, isFile: false, name: "data" } });
    expect(parseMount("type=volume,dst=/anon")).toEqual({ kind: "volume", volume: { source: "", target: "/anon", readonly: false, isFile: false, anonymous: true } });
  });

  test("a source that is neither a host path nor a volume name, and other mistakes, are named", () => {
    const cases: [string, string][] = [
      ["a:/x", `-v a:/x: "a" is neither an absolute host path nor a volume name (${RULE})`],
      ["../up:/x", `-v ../up:/x: "../up" is neither an absolute host path nor a volume name (${RULE})`],
      ["-dash:/x", `-v -dash:/x: "-dash" is neither an absolute host path nor a volume name (${RULE})`],
      [":/x", `-v :/x: "" is neither an absolute host path nor a volume name (${RULE})`],
      ["data:rel", "-v data:rel: the container path must be absolute"],
      ["data:/", "-v data:/: cannot mount over the container's /"],
      ["relative", "-v relative: the container path must be absolute"],
      ["data:/x:z", '-v data:/x:z: unknown option "z" (ro or rw)'],
      ["a:b:c:d", "-v a:b:c:d: expected [HOST-PATH|VOLUME:]CONTAINER-PATH[:ro]"],
    ];
    for (const [value, message] of cases) expect(thrown(() => parseVolume(value)).message).toBe(message);
    expect(thrown(() => parseMount("type=volume,src=data,dst=/x,tmpfs-size=1m")).message).toBe("--mount type=volume,src=data,dst=/x,tmpfs-size=1m: tmpfs-size and tmpfs-mode are for type=tmpfs");
    expect(thrown(() => parseMount("type=volume,src=/abs,dst=/x")).message).toContain('"/abs" is not a volume name');
  });

  test("placing: a named volume's folder in the store, a new 64-hex name for each anonymous one, host paths untouched", () => {
    const volumes: Volume[] = [parseVolume("data:/d"), parseVolume("/a"), parseVolume("/b"), parseVolume(`${tmp}:/h`)];
    placeVolumes(paths, volumes);
    expect(volumes[0]).toMatchObject({ name: "data", source: join(paths.root, "volumes/data/_data") });
    for (const v of volumes.slice(1, 3)) {
      expect(v.name).toMatch(/^[0-9a-f]{64}$/);
      expect(v.source).toBe(join(paths.root, "volumes", v.name!, "_data"));
    }
    expect(volumes[1]!.name).not.toBe(volumes[2]!.name);
    expect(volumes[3]).toEqual({ source: tmp, target: "/h", readonly: false, isFile: false });
  });
});

describe("the volume store", () => {
  test("a volume is made once, with its time and labels; a half-made one or a stray file is no volume", () => {
    expect(createVolume(paths, "data", { team: "a" })).toBe(true);
    writeFileSync(join(paths.root, "volumes/data/_data/f"), "kept");
    expect(createVolume(paths, "data", {})).toBe(false);
    expect(readFileSync(join(volumeData(paths, "data"), "f"), "utf8")).toBe("kept");
    const v = readVolume(paths, "data")!;
    expect(v).toMatchObject({ name: "data", labels: { team: "a" }, mountpoint: volumeData(paths, "data"), anonymous: false });
    expect(v.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    mkdirSync(join(paths.root, "volumes/.new-half/_data"), { recursive: true });
    writeFileSync(join(paths.root, "volumes/stray"), "");
    createVolume(paths, "anon0", { [ANONYMOUS_LABEL]: "" });
    expect(listVolumes(paths).map((x) => [x.name, x.anonymous])).toEqual([
      ["anon0", true],
      ["data", false],
    ]);
    expect(readVolume(paths, "../store")).toBeUndefined();
  });

  test("an anonymous volume made before volume.json existed is read as anonymous", () => {
    const id = "ab".repeat(32);
    mkdirSync(join(paths.root, "volumes", id, "_data"), { recursive: true });
    expect(readVolume(paths, id)).toMatchObject({ name: id, anonymous: true, labels: { [ANONYMOUS_LABEL]: "" } });
  });

  test("who uses a volume: every container that mounts it, by name or by an older cbox's anonymous path", () => {
    const old = "cd".repeat(32);
    container("1".repeat(64), "web", [{ source: volumeData(paths, "data"), target: "/d", readonly: false, isFile: false, name: "data" }]);
    container("2".repeat(64), "", [
      { source: volumeData(paths, "data"), target: "/e", readonly: true, isFile: false, name: "data" },
      { source: volumeData(paths, old), target: "/o", readonly: false, isFile: false, anonymous: true },
      { source: tmp, target: "/h", readonly: false, isFile: false },
    ]);
    const users = volumeUsers(paths);
    expect([...users.keys()].sort()).toEqual([old, "data"].sort());
    expect(users.get("data")!.map((u) => u.name).sort()).toEqual(["", "web"]);
    expect(users.get(old)).toEqual([{ id: "2".repeat(64), name: "" }]);
  });
});

/** A stopped container's record that mounts volumes. */
function container(id: string, name: string, volumes: Volume[]): void {
  const dir = join(paths.containers, id);
  mkdirSync(dir, { recursive: true });
  const state = { id, name, rootfs: "/", image: "", imageId: "", command: ["true"], created: new Date().toISOString(), status: "exited", owner: { pid: 1, startTime: "" }, remove: false, volumes };
  writeFileSync(join(dir, "state.json"), JSON.stringify(state));
}

describe("filling a new volume from the image", () => {
  test("the layers' files at the path, the topmost winning; nothing there leaves it empty", () => {
    const lower = join(tmp, "lower");
    const upper = join(tmp, "upper");
    for (const [dir, files] of [
      [lower, { "srv/data/a": "lower-a", "srv/data/sub/b": "lower-b", "etc/x": "" }],
      [upper, { "srv/data/a": "upper-a" }],
    ] as const) {
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(dir, path, ".."), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
    }
    const data = join(tmp, "vol");
    mkdirSync(data);
    expect(isEmptyFolder(data)).toBe(true);
    seedVolume(data, "/srv/data", [upper, lower]);
    expect(readdirSync(data).sort()).toEqual(["a", "sub"]);
    expect([readFileSync(join(data, "a"), "utf8"), readFileSync(join(data, "sub/b"), "utf8")]).toEqual(["upper-a", "lower-b"]);
    expect(isEmptyFolder(data)).toBe(false);
    const none = join(tmp, "none");
    mkdirSync(none);
    seedVolume(none, "/no/such/path", [upper, lower]);
    expect(readdirSync(none)).toEqual([]);
    expect(isEmptyFolder(join(tmp, "missing"))).toBe(false);
  });

  test.skipIf(process.getuid!() !== 0)("--userns=private: owners shifted to the range, the folder to the container's root", () => {
    const layer = join(tmp, "layer");
    mkdirSync(join(layer, "data"), { recursive: true });
    writeFileSync(join(layer, "data/owned"), "");
    chownSync(join(layer, "data/owned"), 1000, 1001);
    const shift = { uid: 300000, gid: 400000 };
    const data = join(tmp, "vol");
    mkdirSync(data);
    seedVolume(data, "/data", [layer], shift);
    const owners = (p: string) => [lstatSync(p).uid, lstatSync(p).gid];
    expect(owners(join(data, "owned"))).toEqual([301000, 401001]);
    expect(owners(data)).toEqual([300000, 400000]);
    // An empty volume the range already owns is not shifted twice.
    const empty = join(tmp, "empty");
    mkdirSync(empty);
    chownSync(empty, 300000, 400000);
    seedVolume(empty, "/nothing", [layer], shift);
    expect(owners(empty)).toEqual([300000, 400000]);
  });
});

describe("cbox volume", () => {
  test("create: a name, or a random 64-hex one; again with the same labels is no error, with others is", () => {
    expect(createNamedVolume(paths, "data", { a: "1" })).toBe("data");
    expect(createNamedVolume(paths, "data", { a: "1" })).toBe("data");
    expect(createNamedVolume(paths, "data", {})).toBe("data");
    expect(thrown(() => createNamedVolume(paths, "data", { a: "2" })).message).toBe("volume data exists already, with other labels; remove it first (cbox volume rm data) or give its labels");
    const random = createNamedVolume(paths, undefined, {});
    expect(random).toMatch(/^[0-9a-f]{64}$/);
    expect(readVolume(paths, random)?.anonymous).toBe(false);
    for (const bad of ["x", "a/b", "_x", "../up", ""]) expect(thrown(() => createNamedVolume(paths, bad, {})).message).toBe(`volume name ${JSON.stringify(bad)} is not valid: ${RULE}`);
    expect(readdirSync(join(paths.root, "volumes")).sort()).toEqual(["data", random].sort());
  });

  test("ls: docker's columns, names alone, or JSON lines; inspect: docker's object", () => {
    createVolume(paths, "b-vol", { k: "v", e: "" });
    createVolume(paths, "a-vol", {});
    const volumes = listVolumes(paths);
    expect(formatVolumes(volumes, undefined, false)).toBe("DRIVER   VOLUME NAME\nlocal    a-vol\nlocal    b-vol\n");
    expect(formatVolumes(volumes, "json", true)).toBe("a-vol\nb-vol\n");
    const lines = formatVolumes(volumes, "json", false).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[1]).toEqual({ Driver: "local", Labels: "k=v,e=", Mountpoint: volumeData(paths, "b-vol"), Name: "b-vol", Scope: "local" });
    expect(thrown(() => formatVolumes(volumes, "yaml", false)).message).toBe('--format "yaml": use table or json');
    const [inspected] = inspectVolumes(paths, ["b-vol"]);
    expect(inspected).toEqual({ CreatedAt: readVolume(paths, "b-vol")!.createdAt, Driver: "local", Labels: { k: "v", e: "" }, Mountpoint: volumeData(paths, "b-vol"), Name: "b-vol", Options: {}, Scope: "local" });
    expect(thrown(() => inspectVolumes(paths, ["a-vol", "nope"])).message).toBe("no such volume: nope");
    expect(thrown(() => inspectVolumes(paths, [])).message).toBe("cbox volume inspect needs at least one volume");
  });

  test("rm: each named volume must exist (-f: need not) and be unused, or none is removed", () => {
    for (const name of ["free", "used", "also-free"]) createVolume(paths, name, {});
    container("3".repeat(64), "app", [{ source: volumeData(paths, "used"), target: "/u", readonly: false, isFile: false, name: "used" }]);
    expect(thrown(() => removeVolumes(paths, ["free", "nope"], false)).message).toBe("no such volume: nope");
    expect(thrown(() => removeVolumes(paths, ["free", "used"], true)).message).toBe(`volume used is in use by container app (${"3".repeat(12)}); remove it first (cbox rm)`);
    expect(listVolumes(paths).map((v) => v.name)).toEqual(["also-free", "free", "used"]);
    removeVolumes(paths, ["free", "nope", "free"], true);
    expect(listVolumes(paths).map((v) => v.name)).toEqual(["also-free", "used"]);
    expect(thrown(() => removeVolumes(paths, [], false)).message).toBe("cbox volume rm needs at least one volume");
  });

  test("prune: the unused anonymous volumes (all: named ones too), with the space they took", () => {
    const anon = (name: string) => createVolume(paths, name, { [ANONYMOUS_LABEL]: "" });
    anon("a".repeat(64));
    anon("b".repeat(64));
    createVolume(paths, "named", {});
    writeFileSync(join(volumeData(paths, "a".repeat(64)), "f"), "x".repeat(1500));
    mkdirSync(join(volumeData(paths, "a".repeat(64)), "sub"));
    writeFileSync(join(volumeData(paths, "a".repeat(64)), "sub/g"), "y".repeat(34));
    container("4".repeat(64), "", [{ source: volumeData(paths, "b".repeat(64)), target: "/b", readonly: false, isFile: false, anonymous: true, name: "b".repeat(64) }]);
    mkdirSync(join(paths.root, "volumes/.new-half"));
    expect(pruneVolumes(paths, false)).toBe(`Deleted Volumes:\n${"a".repeat(64)}\n\nTotal reclaimed space: 1.534kB\n`);
    expect(existsSync(join(paths.root, "volumes/.new-half"))).toBe(false);
    expect(pruneVolumes(paths, false)).toBe("Total reclaimed space: 0B\n");
    expect(pruneVolumes(paths, true)).toBe("Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n");
    expect(listVolumes(paths).map((v) => v.name)).toEqual(["b".repeat(64)]);
    expect(statSync(volumeData(paths, "b".repeat(64))).isDirectory()).toBe(true);
  });

  test("prune and ls of a store with no volumes make nothing", () => {
    expect(pruneVolumes(paths, true)).toBe("Total reclaimed space: 0B\n");
    expect(formatVolumes(listVolumes(paths), undefined, false)).toBe("DRIVER   VOLUME NAME\n");
    expect(existsSync(paths.root)).toBe(false);
  });
});
