// The few file operations a cgroup driver makes. The real ones act on cgroupfs; unit tests pass a
// cgroupfs-shaped folder tree instead, to see what is written, with what values, in what order.
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, writeSync } from "node:fs";

export interface CgroupFs {
  /** false when the folder was there already. */
  mkdir(path: string): boolean;
  rmdir(path: string): void;
  read(path: string): string | undefined;
  /** Writes into an existing control file: cgroupfs makes them, nobody creates one. */
  write(path: string, value: string): void;
  exists(path: string): boolean;
}

export const cgroupfs: CgroupFs = {
  mkdir(path) {
    try {
      mkdirSync(path, { mode: 0o755 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
  },
  rmdir: (path) => rmdirSync(path),
  read(path) {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  write(path, value) {
    const fd = openSync(path, constants.O_WRONLY);
    try {
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  },
  exists: (path) => existsSync(path),
};
