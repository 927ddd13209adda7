// Messages: every one is a single line on stderr, so a container's stdout stays its own.
// Written directly: importing consola costs ~20 ms of start-up (measured), and so does the
// first touch of process.stderr in a compiled binary (~17 ms: Bun builds the stream then).
import { writeSync } from "node:fs";

export function printError(message: string): void {
  writeSync(2, `cbox: ${message}\n`);
}

export function warn(message: string): void {
  writeSync(2, `cbox: warning: ${message}\n`);
}

/** Columns padded as docker prints them: three spaces between, the last one unpadded. Plain loops: ps runs this cold, once (measured). */
export function table(headers: string[], rows: string[][]): string {
  const last = headers.length - 1;
  const widths = headers.map((h) => h.length);
  for (const r of rows) for (let i = 0; i < last; i++) widths[i] = Math.max(widths[i]!, (r[i] ?? "").length);
  let out = "";
  for (const cells of [headers, ...rows]) {
    let line = "";
    for (let i = 0; i < last; i++) line += (cells[i] ?? "").padEnd(widths[i]! + 3);
    out += `${(line + (cells[last] ?? "")).trimEnd()}\n`;
  }
  return out;
}

/** "3 minutes", "About an hour", "2 days": docker's way of saying how long ago. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}
