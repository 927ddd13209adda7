// From a container's security settings to what the shim applies before execve (plan.ts Lockdown).
import { release } from "node:os";
import { CboxError } from "../errors.ts";
import { capabilityMask, hostLastCap } from "../linux/capabilities.ts";
import { hostSeccompArch } from "../linux/seccomp/arch.ts";
import { packFilter } from "../linux/seccomp/bpf.ts";
import { compileFilter } from "../linux/seccomp/compile.ts";
import { DEFAULT_PROFILE } from "../linux/seccomp/default-profile.ts";
import { parseDockerProfile } from "../linux/seccomp/docker-profile.ts";
import type { Lockdown } from "./plan.ts";
import type { SecuritySpec } from "./security.ts";

/** Throws a one-line Error (naming the file) when text is not a usable docker-format profile. */
export function checkSeccompProfile(text: string, path: string): void {
  parseDockerProfile(text, path);
}

export function lockdownFor(security: SecuritySpec): Lockdown {
  return {
    capabilities: capabilityMask(security.capabilities),
    lastCap: hostLastCap(),
    noNewPrivileges: security.noNewPrivileges,
    seccomp: seccompFilter(security),
  };
}

/** The packed filter, or none: unconfined, or a profile that is empty ({} means unconfined to docker). */
function seccompFilter(security: SecuritySpec): bigint[] | undefined {
  const choice = security.seccomp;
  if (choice.kind === "unconfined") return undefined;
  try {
    const profile = choice.kind === "default" ? DEFAULT_PROFILE : parseDockerProfile(choice.text, choice.path);
    if (!profile) return undefined;
    // docker's rule: a profile's capability conditions are read against the bounding set
    const target = { arch: hostSeccompArch(), caps: new Set(security.capabilities), kernel: release() };
    return packFilter(compileFilter(profile, target));
  } catch (err) {
    throw new CboxError(`seccomp: ${(err as Error).message}`);
  }
}
