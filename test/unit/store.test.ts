import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ContainerState,
  containerDirs,
  createContainer,
  listContainerIds,
  newContainerId,
  ownerSelf,
  readState,
  recoverStale,
  removeContainer,
  updateState,
} from "../../src/container/store.ts";
import { readSpec, scanStore } from "../../src/container/store-read.ts";
import type { ContainerSpec } from "../../src/container/spec.ts";
import { CboxError } from "../../src/errors.ts";
import { type Paths, storagePaths } from "../../src/paths.ts";

const DEAD_PID = 2147483646;
let tmp: string;
let paths: Paths;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "cbox-store-"));
  paths = storagePaths(tmp);
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const removeTree = (p: string) => rmSync(p, { recursive: true, force: true });

function state(over: Partial<ContainerState> = {}): ContainerState {
  return {
    id: newContainerId(),
    name: "",
    rootfs: "/images/x",
    command: ["sh"],
    created: new Date().toISOString(),
    status: "running",
    owner: ownerSelf(),
    remove: false,
    ...over,
  };
}

describe("storagePaths", () => {
  test("containers, names and the live index live under the given root", () => {
    expect(paths).toEqual({ root: tmp, containers: join(tmp, "containers"), names: join(tmp, "names"), live: join(tmp, "live") });
  });

  test("a root given with trailing slashes is the same root", () => {
    expect(storagePaths(`${tmp}//`)).toEqual(paths);
    expect(storagePaths("/").containers).toBe("/containers");
  });
});

describe("createContainer", () => {
  test("makes rootfs, upper, work and state.json", () => {
    const s = state();
    const dirs = createContainer(paths, s);
    expect(dirs).toEqual(containerDirs(paths, s.id));
    expect(dirs.dir).toBe(join(tmp, "containers", s.id));
    for (const d of [dirs.rootfs, dirs.upper, dirs.work]) expect(statSync(d).isDirectory()).toBe(true);
    expect(readState(dirs.dir)).toEqual(s);
    expect(readdirSync(paths.containers)).toEqual([s.id]);
    expect(listContainerIds(paths)).toEqual([s.id]);
  });

  test("a name is reserved in names/ holding the id", () => {
    const s = state({ name: "web" });
    createContainer(paths, s);
    expect(readFileSync(join(paths.names, "web"), "utf8")).toBe(s.id);
  });

  test("a second container with the same name is refused and leaves no folder", () => {
    const first = state({ name: "web" });
    createContainer(paths, first);
    const second = state({ name: "web" });
    let err: unknown;
    try {
      createContainer(paths, second);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CboxError);
    expect((err as CboxError).message).toBe(
      `the name "web" is already in use by container ${first.id.slice(0, 12)}; remove it or pick another name`,
    );
    expect((err as CboxError).exitCode).toBe(125);
    expect(readdirSync(paths.containers)).toEqual([first.id]);
    expect(readFileSync(join(paths.names, "web"), "utf8")).toBe(first.id);
  });

  test("the spec goes into spec.json, the rest into state.json (ps parses only that); an older container's spec is read from its state.json", () => {
    const spec = { id: "x", command: ["sh"], env: ["A=1"], stopSignal: 3 } as unknown as ContainerSpec;
    const s = state({ spec });
    const dirs = createContainer(paths, s);
    const { spec: _, ...record } = s;
    expect(JSON.parse(readFileSync(join(dirs.dir, "state.json"), "utf8"))).toEqual(record);
    expect(JSON.parse(readFileSync(join(dirs.dir, "spec.json"), "utf8"))).toEqual(spec);
    expect(readSpec(dirs.dir, readState(dirs.dir)!)).toEqual(spec);
    updateState(dirs, { status: "running" });
    expect(readSpec(dirs.dir, readState(dirs.dir)!)).toEqual(spec);
    // made by an older cbox: the spec inside state.json, no spec.json
    const old = state();
    const oldDirs = createContainer(paths, old);
    writeFileSync(join(oldDirs.dir, "state.json"), JSON.stringify({ ...old, spec }, null, 2));
    expect(readSpec(oldDirs.dir, readState(oldDirs.dir)!)).toEqual(spec);
    expect(readSpec(oldDirs.dir, old)).toBeUndefined();
  });

  test("updateState merges a change into state.json", () => {
    const s = state();
    const dirs = createContainer(paths, s);
    expect(updateState(dirs, { status: "exited", exitCode: 3 })).toEqual({ ...s, status: "exited", exitCode: 3 });
    expect(readState(dirs.dir)?.exitCode).toBe(3);
    expect(updateState(containerDirs(paths, "f".repeat(64)), { status: "exited" })).toBeUndefined();
  });
});

describe("recoverStale", () => {
  test("removes a half-created folder of a dead process, keeps one of a live process", () => {
    mkdirSync(paths.containers, { recursive: true });
    const dead = join(paths.containers, `.new-${DEAD_PID}-x`);
    const live = join(paths.containers, `.new-${process.pid}-y`);
    mkdirSync(join(dead, "rootfs"), { recursive: true });
    mkdirSync(live);
    recoverStale(paths, removeTree);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  test("a container whose owner is dead is marked exited when not --rm", () => {
    const s = state({ name: "a", owner: { pid: DEAD_PID, startTime: "123" } });
    const dirs = createContainer(paths, s);
    recoverStale(paths, removeTree);
    const after = readState(dirs.dir)!;
    expect(after.status).toBe("exited");
    expect(after.exitCode).toBeNull();
    expect(typeof after.finished).toBe("string");
    expect(existsSync(join(paths.names, "a"))).toBe(true);
  });

  test("a container whose owner is dead is removed with its name when --rm", () => {
    const s = state({ name: "b", remove: true, owner: { pid: DEAD_PID, startTime: "123" } });
    const dirs = createContainer(paths, s);
    const removed: string[] = [];
    recoverStale(paths, (p) => {
      removed.push(p);
      removeTree(p);
    });
    expect(removed).toEqual([dirs.dir]);
    expect(existsSync(dirs.dir)).toBe(false);
    expect(existsSync(join(paths.names, "b"))).toBe(false);
  });

  test("a live pid with another start time counts as dead (pid reuse)", () => {
    const s = state({ owner: { pid: process.pid, startTime: "not-the-start-time" } });
    const dirs = createContainer(paths, s);
    recoverStale(paths, removeTree);
    expect(readState(dirs.dir)!.status).toBe("exited");
  });

  test("a container owned by the current process is kept as it is", () => {
    const s = state({ name: "mine", remove: true });
    const dirs = createContainer(paths, s);
    recoverStale(paths, removeTree);
    expect(readState(dirs.dir)).toEqual(s);
    expect(readFileSync(join(paths.names, "mine"), "utf8")).toBe(s.id);
  });

  test("an exited container is left alone", () => {
    const s = state({ status: "exited", exitCode: 0, remove: true, owner: { pid: DEAD_PID, startTime: "1" } });
    const dirs = createContainer(paths, s);
    recoverStale(paths, removeTree);
    expect(readState(dirs.dir)).toEqual(s);
  });

  test("a name pointing to a missing container: a start leaves it, the full recovery deletes it; valid names stay", () => {
    const s = state({ name: "ok" });
    createContainer(paths, s);
    writeFileSync(join(paths.names, "ghost"), "e".repeat(64));
    recoverStale(paths, removeTree);
    expect(existsSync(join(paths.names, "ghost"))).toBe(true);
    recoverStale(paths, removeTree, "all");
    expect(existsSync(join(paths.names, "ghost"))).toBe(false);
    expect(existsSync(join(paths.names, "ok"))).toBe(true);
  });

  test("a name whose container is gone is taken by a new container that wants it", () => {
    mkdirSync(paths.names, { recursive: true });
    writeFileSync(join(paths.names, "web"), "e".repeat(64));
    const s = state({ name: "web" });
    createContainer(paths, s);
    expect(readFileSync(join(paths.names, "web"), "utf8")).toBe(s.id);
  });

  test("live/: an entry made with the container; gone once its end is recorded, or with the container; back when it starts again", () => {
    const kept = state();
    const keptDirs = createContainer(paths, kept);
    const removed = state({ remove: true });
    createContainer(paths, removed);
    expect(readdirSync(paths.live).sort()).toEqual([kept.id, removed.id].sort());
    updateState(keptDirs, { status: "exited", exitCode: 0 });
    removeContainer(paths, removed.id, removeTree);
    expect(readdirSync(paths.live)).toEqual([]);
    updateState(keptDirs, { status: "created" }); // cbox start
    expect(readdirSync(paths.live)).toEqual([kept.id]);
  });

  test("a container made by cbox create waits owned by none: out of live/, never taken for ended, back in live/ once started", () => {
    const made = state({ status: "created" });
    const dirs = createContainer(paths, made);
    updateState(dirs, { owner: undefined });
    expect(readdirSync(paths.live)).toEqual([]);
    recoverStale(paths, removeTree, "all");
    expect(readState(dirs.dir)).toMatchObject({ status: "created" });
    expect(readState(dirs.dir)?.owner).toBeUndefined();
    expect(readdirSync(paths.live)).toEqual([]);
    updateState(dirs, { owner: { pid: DEAD_PID, startTime: "123" } }); // a cbox start, killed
    expect(readdirSync(paths.live)).toEqual([made.id]);
    recoverStale(paths, removeTree);
    expect(readState(dirs.dir)?.status).toBe("exited");
    expect(readdirSync(paths.live)).toEqual([]);
  });

  test("a --rm container that cbox restart stopped is kept when its end is recorded", () => {
    const dead = { owner: { pid: DEAD_PID, startTime: "123" }, remove: true };
    const restarting = state({ ...dead, stoppedToRestart: true });
    const plain = state(dead);
    createContainer(paths, restarting);
    createContainer(paths, plain);
    recoverStale(paths, removeTree);
    expect(readState(containerDirs(paths, restarting.id).dir)?.status).toBe("exited");
    expect(readState(containerDirs(paths, plain.id).dir)).toBeUndefined();
  });

  test("a start's recovery reads only live/; the full one (ps, rm) indexes every container not ended", () => {
    const dead = { owner: { pid: DEAD_PID, startTime: "123" } };
    const indexed = state(dead);
    createContainer(paths, indexed);
    const unindexed = state(dead); // as a cbox before live/ made it, or one killed in between
    createContainer(paths, unindexed);
    rmSync(join(paths.live, unindexed.id));
    const exitedButListed = state({ status: "exited", exitCode: 0 });
    createContainer(paths, exitedButListed); // killed between its end's record and leaving live/
    recoverStale(paths, removeTree);
    expect(readState(containerDirs(paths, indexed.id).dir)?.status).toBe("exited");
    expect(readState(containerDirs(paths, unindexed.id).dir)?.status).toBe("running");
    expect(readdirSync(paths.live)).toEqual([]);
    recoverStale(paths, removeTree, "all");
    expect(readState(containerDirs(paths, unindexed.id).dir)?.status).toBe("exited");
    expect(readdirSync(paths.live)).toEqual([]);
  });

  test("a store made before live/: the first recovery reads every container and makes the index", () => {
    const up = state();
    createContainer(paths, up);
    const dead = state({ owner: { pid: DEAD_PID, startTime: "123" } });
    createContainer(paths, dead);
    rmSync(paths.live, { recursive: true });
    recoverStale(paths, removeTree);
    expect(readState(containerDirs(paths, dead.id).dir)?.status).toBe("exited");
    expect(readdirSync(paths.live)).toEqual([up.id]);
  });

  test("a live entry whose folder is being made is kept; one whose folder is gone goes", () => {
    mkdirSync(paths.live, { recursive: true });
    mkdirSync(paths.containers, { recursive: true });
    const making = "c".repeat(64);
    const gone = "d".repeat(64);
    mkdirSync(join(paths.containers, `.new-${process.pid}-${making}`));
    for (const id of [making, gone]) writeFileSync(join(paths.live, id), "");
    recoverStale(paths, removeTree);
    expect(readdirSync(paths.live)).toEqual([making]);
  });

  test("a store that does not exist yet is fine", () => {
    expect(() => recoverStale(storagePaths(join(tmp, "none")), removeTree)).not.toThrow();
  });
});

describe("scanStore", () => {
  const live = (s: ContainerState) => scanStore(paths).containers.find((c) => c.state.id === s.id)?.live;

  test("reads every container with what it does now; a healthy store is not stale", () => {
    const running = state({ name: "up" });
    const ended = state({ status: "exited", exitCode: 0, owner: { pid: DEAD_PID, startTime: "1" } });
    createContainer(paths, running);
    createContainer(paths, ended);
    mkdirSync(join(paths.containers, `.new-${process.pid}-x`));
    writeFileSync(join(paths.names, `.tmp-${process.pid}-x`), "");
    const scan = scanStore(paths);
    expect(scan.stale).toBe(false);
    expect(scan.containers.map((c) => [c.state.id, c.live]).sort()).toEqual([[running.id, "running"], [ended.id, "exited"]].sort());
  });

  test("stale exactly where recoverStale has work, which then leaves a store that is not", () => {
    const cases: [string, () => void][] = [
      ["a half-created folder of a dead process", () => mkdirSync(join(paths.containers, `.new-${DEAD_PID}-x`))],
      ["a container whose owner is dead", () => void createContainer(paths, state({ owner: { pid: DEAD_PID, startTime: "123" } }))],
      ["an owner pid reused by another process", () => void createContainer(paths, state({ owner: { pid: process.pid, startTime: "not-the-start-time" } }))],
      ["a temporary name of a dead process", () => writeFileSync(join(paths.names, `.tmp-${DEAD_PID}-x`), "")],
      ["a name whose container is gone", () => writeFileSync(join(paths.names, "ghost"), "e".repeat(64))],
    ];
    for (const [what, make] of cases) {
      rmSync(tmp, { recursive: true, force: true });
      createContainer(paths, state({ name: "ok" }));
      make();
      expect([what, scanStore(paths).stale]).toEqual([what, true]);
      recoverStale(paths, removeTree, "all"); // as ps does when its scan finds the store stale
      expect([what, scanStore(paths).stale]).toEqual([what, false]);
    }
  });

  test("a container whose owner died shows exited before anything records it", () => {
    const s = state({ owner: { pid: DEAD_PID, startTime: "123" } });
    createContainer(paths, s);
    expect(live(s)).toBe("exited");
    expect(readState(containerDirs(paths, s.id).dir)!.status).toBe("running");
  });

  test("a store that does not exist yet is empty and not stale", () => {
    expect(scanStore(storagePaths(join(tmp, "none")))).toEqual({ containers: [], stale: false });
  });
});
