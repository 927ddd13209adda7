// Asking the person at the terminal before something that cannot be undone (docker's prune prompt).
import { readSync, writeSync } from "node:fs";
import { isatty } from "node:tty";
import { CboxError } from "../errors.ts";

/**
 * Writes question and reads one line from the terminal: whether it was y or yes. Without a
 * terminal on stdin there is nobody to ask: refused, naming the flag that skips the question.
 */
export function confirm(question: string, skipFlag: string): boolean {
  if (!isatty(0)) throw new CboxError(`standard input is not a terminal, so cbox cannot ask for confirmation: give ${skipFlag} to go ahead without asking`);
  writeSync(1, question);
  let line = "";
  const buf = Buffer.alloc(256);
  while (!line.includes("\n")) {
    const n = readSync(0, buf, 0, buf.length, null);
    if (n <= 0) break;
    line += buf.toString("utf8", 0, n);
  }
  return /^\s*y(es)?\s*$/i.test(line.split("\n")[0] ?? "");
}
