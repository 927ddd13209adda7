// The only module that touches bun:ffi. It compiles shim.c with TinyCC (`cc`) at run time:
// a Bun process is multi-threaded, so namespaces and forking must happen in C (DESIGN.md).
import { cc } from "bun:ffi";
import { closeSync, openSync, writeSync } from "node:fs";
import source from "./shim.c" with { type: "text" };

export interface ShimSymbols {
  cbox_spawn(plan: Uint8Array, len: number, flags: number, signals: Int32Array, nsignals: number, out: Int32Array): number;
  cbox_wait(pid: number): number;
}

// O_TMPFILE | O_RDWR: an unnamed file, so nothing is left behind even if we are killed.
// TinyCC reads the source by path, and a `--compile` binary's embedded files have none.
const O_TMPFILE_RDWR = 0o20200000 | 0o2;

let loaded: ShimSymbols | undefined;

export function shim(): ShimSymbols {
  if (loaded) return loaded;
  const fd = openTmpfile();
  try {
    writeSync(fd, source);
    const lib = cc({
      source: `/proc/self/fd/${fd}`,
      symbols: {
        cbox_spawn: { args: ["ptr", "i32", "i32", "ptr", "i32", "ptr"], returns: "i32" },
        cbox_wait: { args: ["i32"], returns: "i32" },
      },
    });
    loaded = lib.symbols as unknown as ShimSymbols;
    return loaded;
  } finally {
    closeSync(fd);
  }
}

function openTmpfile(): number {
  for (const dir of [process.env.XDG_RUNTIME_DIR, "/dev/shm", "/tmp"]) {
    if (!dir) continue;
    try {
      return openSync(dir, O_TMPFILE_RDWR, 0o600);
    } catch {
      // tmpfs without O_TMPFILE support or not writable: try the next one
    }
  }
  throw new Error("cannot create a temporary file for the C shim in $XDG_RUNTIME_DIR, /dev/shm or /tmp");
}

