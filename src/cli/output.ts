// Messages: every one is a single line on stderr, so a container's stdout stays its own.
// Written directly: importing consola costs ~20 ms of start-up (measured), on every container start.

export function printError(message: string): void {
  process.stderr.write(`cbox: ${message}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`cbox: warning: ${message}\n`);
}
