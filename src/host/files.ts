// The host as `cbox info` reads it: files under / (or, in unit tests, under a folder laid out as
// /proc, /sys and /etc would be), who may open what, and where programs are.
import { accessSync, constants, readdirSync, readFileSync, statSync, type Stats } from "node:fs";
import { findBinary } from "../linux/firewall/common.ts";

export interface HostFiles {
  /** The text of a file, or undefined when it cannot be read. */
  read(path: string): string | undefined;
  stat(path: string): Stats | undefined;
  list(path: string): string[];
  /** Whether this process may open path with mode (constants.R_OK, W_OK, X_OK or'ed). */
  can(path: string, mode: number): boolean;
  /** An executable program's path, from PATH and the sbin folders. */
  which(name: string): string | undefined;
  /** The folder the host's paths are read under: "" for the real host. */
  prefix: string;
}

export interface FakeHost {
  can?: (path: string, mode: number) => boolean;
  which?: (name: string) => string | undefined;
}

/** The real host (prefix ""), or a folder standing in for it with the answers tests give. */
export function hostFiles(prefix = "", env: Record<string, string | undefined> = process.env, fake: FakeHost = {}): HostFiles {
  const at = (path: string) => `${prefix}${path}`;
  return {
    prefix,
    read(path) {
      try {
        return readFileSync(at(path), "utf8");
      } catch {
        return undefined;
      }
    },
    stat(path) {
      try {
        return statSync(at(path));
      } catch {
        return undefined;
      }
    },
    list(path) {
      try {
        return readdirSync(at(path));
      } catch {
        return [];
      }
    },
    can:
      fake.can ??
      ((path, mode) => {
        try {
          accessSync(at(path), mode);
          return true;
        } catch {
          return false;
        }
      }),
    which: fake.which ?? ((name) => findBinary(name, env)),
  };
}

export const { R_OK, W_OK, X_OK } = constants;
