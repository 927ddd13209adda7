// How cbox runs itself again (a detached container's monitor, cbox cp's side in a container).

/** The executable, and the script when not compiled. */
export function selfCommand(): string[] {
  return Bun.main.startsWith("/$bunfs/") ? [process.execPath] : [process.execPath, Bun.main];
}
