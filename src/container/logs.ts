// `cbox logs`: a detached container's output, from the log its monitor writes in the CRI format
// (podman's k8s-file): "TIME STREAM F|P TEXT" per record, P marking a piece of a longer line.
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { CboxError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { resolveContainer } from "./remove.ts";
import { liveState } from "./status.ts";
import { containerDirs, readState } from "./store.ts";

export interface LogRecord {
  time: string;
  stream: "stdout" | "stderr";
  /** The record ends its line (F); else the line goes on in the next record (P). */
  full: boolean;
  text: string;
}

export interface LogOptions {
  follow: boolean;
  /** The last N lines only; undefined: all. */
  tail?: number;
  timestamps: boolean;
}

/** The complete records in text, and what is left of a record still being written. */
export function parseLog(text: string): { records: LogRecord[]; rest: string } {
  const end = text.lastIndexOf("\n") + 1;
  const records: LogRecord[] = [];
  for (const line of text.slice(0, end).split("\n")) {
    const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/s.exec(line);
    if (m) records.push({ time: m[1]!, stream: m[2] as LogRecord["stream"], full: m[3] === "F", text: m[4]! });
  }
  return { records, rest: text.slice(end) };
}

/** The records of the last n lines (a line: P records up to an F one, or the unfinished last one). */
export function tailRecords(records: LogRecord[], n: number): LogRecord[] {
  let lines = 0;
  for (let i = records.length - 1; i >= 0; i--) {
    if (records[i]!.full || i === records.length - 1) lines++;
    if (lines > n) return records.slice(i + 1);
  }
  return records;
}

/** The bytes to write for each record, docker's -t prefix on each line's first record. */
export function renderRecords(records: LogRecord[], timestamps: boolean, lineStart: { stdout: boolean; stderr: boolean }): { fd: number; text: string }[] {
  return records.map((r) => {
    const prefix = timestamps && lineStart[r.stream] ? `${r.time} ` : "";
    lineStart[r.stream] = r.full;
    return { fd: r.stream === "stdout" ? 1 : 2, text: `${prefix}${r.text}${r.full ? "\n" : ""}` };
  });
}

export function parseTail(value: string | undefined): number | undefined {
  if (value === undefined || value === "all") return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new CboxError(`--tail ${JSON.stringify(value)}: expected a number of lines or "all"`);
  return Number(value);
}

export async function showLogs(paths: Paths, ref: string, opts: LogOptions): Promise<number> {
  const id = resolveContainer(paths, ref);
  const dirs = containerDirs(paths, id);
  const running = () => {
    const state = readState(dirs.dir);
    return state !== undefined && liveState(state) === "running";
  };
  let fd: number;
  try {
    fd = openSync(dirs.log, "r");
  } catch {
    if (readState(dirs.dir)?.detached) return 0; // nothing written yet
    throw new CboxError(`container ${ref} was not started with -d: its output went to the terminal that ran it, and no log is kept`);
  }
  const lineStart = { stdout: true, stderr: true };
  let pending = "";
  let tail = opts.tail;
  try {
    for (;;) {
      // Asked before reading: what it wrote before it ended is then read in this same turn.
      const ended = !opts.follow || !running();
      const { records, rest } = parseLog(pending + readAvailable(fd));
      pending = rest;
      const shown = tail === undefined ? records : tailRecords(records, tail);
      tail = undefined;
      for (const out of renderRecords(shown, opts.timestamps, lineStart)) writeAll(out.fd, out.text);
      if (ended) return 0;
      await Bun.sleep(100);
    }
  } finally {
    closeSync(fd);
  }
}

function readAvailable(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) chunks.push(Buffer.from(buf.subarray(0, n)));
  return Buffer.concat(chunks).toString("utf8");
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
}
