// `cbox info`'s two forms: aligned text lines, or one JSON object.
import type { HostInfo } from "./info.ts";

const STATUS_WIDTH = 9;
const NAME_WIDTH = 19;

export function formatText(info: HostInfo): string {
  const who = info.user.root ? "root" : `${info.user.name || "uid"} (uid ${info.user.uid})`;
  const host = [info.host.hostname, info.host.os ? `(${info.host.os})` : ""].filter(Boolean).join(" ");
  const width = Math.max(NAME_WIDTH, ...info.checks.map((c) => c.name.length + 2));
  const line = (status: string, name: string, text: string) => `${status.padEnd(STATUS_WIDTH)}${name.padEnd(width)}${text}`.trimEnd();
  const lines = [
    `cbox ${info.version} (commit ${info.commit}) on ${host || "this host"}, as ${who}`,
    ...info.checks.map((c) => line(c.status, c.name, c.fix ? `${c.detail}; fix: ${c.fix}` : c.detail)),
    line("", "containers", `${info.containers.running} running, ${info.containers.stopped} stopped`),
    line("", "images", String(info.images)),
  ];
  return lines.join("\n") + "\n";
}

export function formatJson(info: HostInfo): string {
  return JSON.stringify(info, null, 2) + "\n";
}

