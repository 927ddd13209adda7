// The one logger: messages go to stderr so a container's stdout stays its own.
import { createConsola } from "consola";

export const logger = createConsola({ stdout: process.stderr, stderr: process.stderr, formatOptions: { date: false } });

/** The one-line form every cbox failure takes. */
export function printError(message: string): void {
  process.stderr.write(`cbox: ${message}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`cbox: warning: ${message}\n`);
}
