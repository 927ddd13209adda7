// Where a command's time goes. With CBOX_TIMING=1 cbox records the end of each phase of its
// work (ms since the process began, performance.now()) and writes them as one JSON line on
// stderr when it exits: scripts/bench-start.ts averages them into BENCHMARKS.md. Otherwise
// mark() does nothing.
import { writeSync } from "node:fs";

const enabled = process.env.CBOX_TIMING === "1";
const marks: [string, number][] = [];

/** The phase called name ends now. */
export function mark(name: string): void {
  if (enabled) marks.push([name, performance.now()]);
}

/** Writes the marks (once, at exit): {"timing":[["phase",ms],...]}. */
export function writeTimings(): void {
  if (!enabled || marks.length === 0) return;
  mark("exit");
  writeSync(2, `${JSON.stringify({ timing: marks.map(([n, t]) => [n, Math.round(t * 1000) / 1000]) })}\n`);
  marks.length = 0;
}
