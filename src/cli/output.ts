// The one logger: every message is one line on stderr, so a container's stdout stays its own.
import { createConsola, type LogObject } from "consola";

function oneLine(log: LogObject): void {
  const prefix = log.type === "warn" ? "cbox: warning: " : "cbox: ";
  process.stderr.write(`${prefix}${log.args.map(String).join(" ")}\n`);
}

export const logger = createConsola({ reporters: [{ log: oneLine }] });

export function printError(message: string): void {
  logger.error(message);
}

export function warn(message: string): void {
  logger.warn(message);
}
