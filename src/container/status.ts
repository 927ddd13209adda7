// What a container is doing now: its state.json read against the live processes.
import { humanDuration } from "../cli/output.ts";
import { isSameProcess } from "../linux/proc.ts";
import type { ContainerState } from "./store.ts";

export type LiveState = "created" | "running" | "exited";

/** Running while the cbox (or monitor) that owns it lives. */
export function liveState(state: ContainerState): LiveState {
  return state.status === "exited" || endUnrecorded(state) ? "exited" : state.status;
}

/** It has ended, but its owner died before recording that (killed, or the machine rebooted). */
export function endUnrecorded(state: ContainerState): boolean {
  return state.status !== "exited" && !isSameProcess(state.owner.pid, state.owner.startTime);
}

export function pid1Alive(state: ContainerState): boolean {
  return state.pid !== undefined && state.pidStartTime !== undefined && isSameProcess(state.pid, state.pidStartTime);
}

/** docker's STATUS column: "Up 3 minutes", "Exited (137) 2 seconds ago", "Created". */
export function statusText(state: ContainerState, now = Date.now(), live = liveState(state)): string {
  switch (live) {
    case "running":
      return `Up ${humanDuration(now - Date.parse(state.started ?? state.created))}`;
    case "created":
      return "Created";
    case "exited": {
      const code = state.exitCode === undefined || state.exitCode === null ? "" : ` (${state.exitCode})`;
      const when = state.finished ? ` ${humanDuration(now - Date.parse(state.finished))} ago` : "";
      return `Exited${code}${when}`;
    }
  }
}
