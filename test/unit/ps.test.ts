import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatListed, formatPort, formatPs, inspectObject, listContainers, portsText } from "../../src/container/ps.ts";
import { parseSignal } from "../../src/container/signal.ts";
import { statusText } from "../../src/container/status.ts";
import { containerDirs, createContainer, newContainerId, ownerSelf, readState, type ContainerState } from "../../src/container/store.ts";
import { storagePaths, type Paths } from "../../src/paths.ts";
import { thrown } from "./helpers.ts";

const now = Date.parse("2026-11-23T12:00:00Z");
const gone = { pid: 2 ** 22 + 1, startTime: "1" }; // no such process
const exited: ContainerState = {
  id: "a".repeat(64),
  name: "web",
  rootfs: "/images/x/rootfs",
  image: "alpine:3.20",
  imageId: "f".repeat(64),
  command: ["sh", "-c", "while :; do sleep 1; done"],
  created: "2026-11-23T11:57:00Z",
  status: "exited",
  owner: gone,
  remove: false,
  started: "2026-11-23T11:57:00Z",
  finished: "2026-11-23T11:59:58Z",
  exitCode: 137,
};

describe("ps", () => {
  test("STATUS as docker words it", () => {
    expect(statusText(exited, now)).toBe("Exited (137) 2 seconds ago");
    expect(statusText({ ...exited, exitCode: null }, now)).toBe("Exited 2 seconds ago");
    // a container whose cbox is gone is not running, whatever its state file says
    expect(statusText({ ...exited, status: "running", finished: undefined, exitCode: undefined }, now)).toBe("Exited");
    expect(statusText({ ...exited, status: "running", owner: { pid: process.pid, startTime: ownStart() } }, now)).toBe("Up 3 minutes");
  });

  test("the table: short id, image, quoted command cut to 20, created, status, name", () => {
    expect(formatPs([exited], undefined, now)).toBe(
      "CONTAINER ID   IMAGE         COMMAND                  CREATED         STATUS                       PORTS   NAMES\n" +
        `aaaaaaaaaaaa   alpine:3.20   "sh -c while :; do s…"   3 minutes ago   Exited (137) 2 seconds ago           web\n`,
    );
    expect(JSON.parse(formatPs([{ ...exited, image: "" }], "json", now))).toMatchObject({ ID: exited.id, Image: "/images/x/rootfs", State: "exited", Command: "sh -c while :; do sleep 1; done" });
  });

  test("inspect of an exited container has no pid and keeps its code and times", () => {
    expect(inspectObject({ ...exited, pid: 123 })).toMatchObject({ State: { Status: "exited", Running: false, Pid: 0, ExitCode: 137, FinishedAt: exited.finished } });
  });
});

describe("published ports", () => {
  const running = (): ContainerState => ({
    ...exited,
    status: "running",
    owner: { pid: process.pid, startTime: ownStart() },
    network: {
      mode: "bridge",
      ip: "10.88.0.2",
      gateway: "10.88.0.1",
      prefix: 16,
      ports: [
        { hostIp: "", hostPort: 8080, containerPort: 80, proto: "tcp" },
        { hostIp: "127.0.0.1", hostPort: 5353, containerPort: 53, proto: "udp" },
      ],
    },
  });

  test("ps's PORTS column and cbox port, as docker prints them", () => {
    expect(portsText(running())).toBe("0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp");
    expect(formatPort(running())).toBe("80/tcp -> 0.0.0.0:8080\n53/udp -> 127.0.0.1:5353\n");
    expect(formatPort(running(), "53/udp")).toBe("127.0.0.1:5353\n");
    expect(formatPort(running(), "80")).toBe("0.0.0.0:8080\n");
    expect(thrown(() => formatPort(running(), "81")).message).toContain("no public port '81'");
    expect(inspectObject(running()).NetworkSettings).toMatchObject({ Mode: "bridge", IPAddress: "10.88.0.2", Gateway: "10.88.0.1", Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] } });
  });

  test("an exited or released container shows none", () => {
    expect(portsText({ ...running(), owner: gone })).toBe("");
    expect(portsText({ ...running(), network: { ...running().network!, released: true } })).toBe("");
    expect(inspectObject({ ...running(), owner: gone }).NetworkSettings).toMatchObject({ IPAddress: "", Ports: {} });
  });
});

describe("listContainers", () => {
  let tmp: string;
  let paths: Paths;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), "cbox-ps-"));
    paths = storagePaths(tmp);
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const make = (over: Partial<ContainerState>): ContainerState => {
    const s: ContainerState = { ...exited, id: newContainerId(), status: "running", owner: ownerSelf(), exitCode: undefined, finished: undefined, ...over };
    createContainer(paths, s);
    return s;
  };
  const stateFile = (s: ContainerState) => join(containerDirs(paths, s.id).dir, "state.json");

  test("newest first, each with what it does now; a healthy store is left as it is", async () => {
    const older = make({ name: "older", created: "2026-11-23T11:00:00Z" });
    const newer = make({ name: "newer", created: "2026-11-23T11:30:00Z" });
    const done = make({ name: "done", created: "2026-11-23T11:10:00Z", status: "exited", exitCode: 0, owner: gone });
    const before = readFileSync(stateFile(older), "utf8");
    const listed = await listContainers(paths);
    expect(listed.map((c) => [c.state.name, c.live])).toEqual([["newer", "running"], ["done", "exited"], ["older", "running"]]);
    expect(readFileSync(stateFile(older), "utf8")).toBe(before);
    expect([newer, done].every((s) => existsSync(stateFile(s)))).toBe(true);
  });

  test("a container whose owner died shows exited, and its end is recorded", async () => {
    const orphan = make({ name: "orphan", owner: gone });
    const [listed] = await listContainers(paths);
    expect(listed).toMatchObject({ live: "exited", state: { id: orphan.id, status: "exited", exitCode: null } });
    expect(formatListed([listed!], undefined, now)).toContain("Exited");
    expect(readState(containerDirs(paths, orphan.id).dir)).toMatchObject({ status: "exited", exitCode: null });
  });

  test("a --rm container whose owner died is removed, not listed", async () => {
    const orphan = make({ name: "gone-rm", remove: true, owner: gone });
    const kept = make({ name: "kept" });
    expect((await listContainers(paths)).map((c) => c.state.name)).toEqual(["kept"]);
    expect(existsSync(containerDirs(paths, orphan.id).dir)).toBe(false);
    expect(existsSync(containerDirs(paths, kept.id).dir)).toBe(true);
  });

  test("formatListed prints what formatPs prints for the same containers", async () => {
    make({ name: "a" });
    make({ name: "b", status: "exited", exitCode: 2, owner: gone });
    const listed = await listContainers(paths);
    for (const format of [undefined, "json"]) expect(formatListed(listed, format, now)).toBe(formatPs(listed.map((c) => c.state), format, now));
  });
});

describe("parseSignal", () => {
  test("names with or without SIG, any case, and numbers", () => {
    expect([parseSignal("KILL"), parseSignal("sigterm"), parseSignal("usr1"), parseSignal("2"), parseSignal("64")]).toEqual([9, 15, 10, 2, 64]);
  });
  test("anything else is refused", () => {
    for (const bad of ["", "0", "65", "SIGFOO", "-9"]) expect(thrown(() => parseSignal(bad)).message).toContain("not a signal");
  });
});

function ownStart(): string {
  const stat = require("node:fs").readFileSync(`/proc/${process.pid}/stat`, "utf8") as string;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
}
