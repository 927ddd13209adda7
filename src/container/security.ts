// What a container's process may do: capabilities, seccomp, no-new-privileges, --privileged,
// --read-only. Flags are checked here, before anything is created.
import { readFileSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { containerCapabilities } from "../linux/capabilities.ts";

export interface SecurityOptions {
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  readOnly?: boolean;
}

/** default: cbox's deny-list; unconfined: none; profile: a docker-format JSON file, kept as read. */
export type SeccompChoice = { kind: "default" } | { kind: "unconfined" } | { kind: "profile"; path: string; text: string };

export interface SecuritySpec {
  privileged: boolean;
  /** The bounding set, and root's permitted and effective sets ("CAP_CHOWN", ...). */
  capabilities: string[];
  noNewPrivileges: boolean;
  seccomp: SeccompChoice;
  readOnly: boolean;
}

/** --security-opt values that ask cbox to leave off a mechanism it does not have. */
const ACCEPTED_NO_OPS = ["apparmor=unconfined", "label=disable"];

export function parseSecurity(opts: SecurityOptions, checkProfile: (text: string, path: string) => void): SecuritySpec {
  const privileged = !!opts.privileged;
  let seccomp: SeccompChoice = { kind: privileged ? "unconfined" : "default" };
  let noNewPrivileges = false;
  for (const value of opts.securityOpt ?? []) {
    // docker also takes the old "key:value" spelling
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(value);
    const [key, arg] = m ? [m[1]!, m[2]] : ["", undefined];
    const where = `--security-opt ${value}`;
    if (key === "no-new-privileges") {
      if (arg !== undefined && arg !== "true" && arg !== "false") throw new CboxError(`${where}: expected no-new-privileges or no-new-privileges=true|false`);
      noNewPrivileges = arg !== "false";
    } else if (key === "seccomp" && arg) {
      seccomp = arg === "unconfined" ? { kind: "unconfined" } : readProfile(arg, checkProfile);
    } else if (!ACCEPTED_NO_OPS.includes(`${key}=${arg}`)) {
      throw new CboxError(`${where}: not supported (seccomp=unconfined|FILE.json, no-new-privileges)`);
    }
  }
  const capabilities = containerCapabilities({ add: opts.capAdd ?? [], drop: opts.capDrop ?? [], privileged });
  return { privileged, capabilities, noNewPrivileges, seccomp, readOnly: !!opts.readOnly };
}

/** Problems are named with the file first: "--security-opt seccomp: FILE: what". */
function readProfile(path: string, check: (text: string, path: string) => void): SeccompChoice {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new CboxError(`--security-opt seccomp: cannot read ${path}`);
  }
  try {
    check(text, path);
  } catch (err) {
    throw new CboxError(`--security-opt seccomp: ${(err as Error).message}`);
  }
  return { kind: "profile", path, text };
}
