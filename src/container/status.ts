// What a container is doing now: its state.json read against the live processes.
import { humanDuration } from "../cli/output.ts";
import { isSameProcess } from "../linux/proc.ts";
import type { ContainerState } from "./store.ts";

export type LiveState = "created" | "running" | "restarting" | "exited";

/** What ps and inspect show: a running container whose processes are frozen (cbox pause) is paused. */
export type ShownState = LiveState | "paused";

/** Running while the cbox (or monitor) that owns it lives; created while it starts, or waits for cbox start. */
export function liveState(state: ContainerState): LiveState {
  return state.status === "exited" || endUnrecorded(state) ? "exited" : state.status;
}

/** Made by cbox create (or back from a first start that failed): nothing runs, no cbox owns it. */
export function waitingForStart(state: ContainerState): boolean {
  return state.status === "created" && state.owner === undefined;
}

/** A cbox owns it: it is starting or running (its end not yet recorded). */
export function owned(state: ContainerState): boolean {
  return state.status !== "exited" && state.owner !== undefined;
}

/** It has ended, but its owner died before recording that (killed, or the machine rebooted). */
export function endUnrecorded(state: ContainerState): boolean {
  return owned(state) && !isSameProcess(state.owner!.pid, state.owner!.startTime);
}

/** Starting or running: its owner lives. */
export function active(state: ContainerState): boolean {
  return owned(state) && !endUnrecorded(state);
}

export function pid1Alive(state: ContainerState): boolean {
  return state.pid !== undefined && state.pidStartTime !== undefined && isSameProcess(state.pid, state.pidStartTime);
}

/** Its live state, paused when it runs frozen by cbox pause (recorded in its state: ps reads no cgroup). */
export function shownState(state: ContainerState, live = liveState(state)): ShownState {
  return live === "running" && state.paused ? "paused" : live;
}

/** docker's STATUS column: "Up 3 minutes", "Up 3 minutes (Paused)", "Exited (137) 2 seconds ago", "Created". */
export function statusText(state: ContainerState, now = Date.now(), live: ShownState = liveState(state)): string {
  switch (live) {
    case "running":
    case "paused":
      return `Up ${humanDuration(now - Date.parse(state.started ?? state.created))}${live === "paused" ? " (Paused)" : ""}`;
    case "created":
      return "Created";
    case "restarting":
      return `Restarting (${state.exitCode ?? 0}) ${humanDuration(now - Date.parse(state.finished ?? state.created))} ago`;
    case "exited": {
      const code = state.exitCode === undefined || state.exitCode === null ? "" : ` (${state.exitCode})`;
      const when = state.finished ? ` ${humanDuration(now - Date.parse(state.finished))} ago` : "";
      return `Exited${code}${when}`;
    }
  }
}
