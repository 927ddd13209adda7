import { describe, expect, test } from "bun:test";
import { formatPs, inspectObject } from "../../src/container/ps.ts";
import { parseSignal } from "../../src/container/signal.ts";
import { statusText } from "../../src/container/status.ts";
import type { ContainerState } from "../../src/container/store.ts";
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
      "CONTAINER ID   IMAGE         COMMAND                  CREATED         STATUS                       NAMES\n" +
        `aaaaaaaaaaaa   alpine:3.20   "sh -c while :; do s…"   3 minutes ago   Exited (137) 2 seconds ago   web\n`,
    );
    expect(JSON.parse(formatPs([{ ...exited, image: "" }], "json", now))).toMatchObject({ ID: exited.id, Image: "/images/x/rootfs", State: "exited", Command: "sh -c while :; do sleep 1; done" });
  });

  test("inspect of an exited container has no pid and keeps its code and times", () => {
    expect(inspectObject({ ...exited, pid: 123 })).toMatchObject({ State: { Status: "exited", Running: false, Pid: 0, ExitCode: 137, FinishedAt: exited.finished } });
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
