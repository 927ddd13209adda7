// From a container's security settings to what the shim applies before execve (plan.ts Lockdown).
import { release } from "node:os";
import { CboxError } from "../errors.ts";
import { capabilityMask, DEFAULT_CAPABILITIES, hostLastCap } from "../linux/capabilities.ts";
import { hostSeccompArch, type SeccompArch } from "../linux/seccomp/arch.ts";
import { packFilter } from "../linux/seccomp/bpf.ts";
import { compileFilter } from "../linux/seccomp/compile.ts";
import { defaultFilterBase64 } from "../linux/seccomp/default-filter.ts" with { type: "macro" };
import { DEFAULT_PROFILE } from "../linux/seccomp/default-profile.ts";
import { parseDockerProfile } from "../linux/seccomp/docker-profile.ts";
import type { Lockdown } from "./plan.ts";
import type { SecuritySpec } from "./security.ts";

/** The default filter for docker's default capabilities, compiled when cbox was built. */
const BUILT_DEFAULT_FILTERS: Record<SeccompArch, string> = {
  x86_64: defaultFilterBase64("x86_64"),
  aarch64: defaultFilterBase64("aarch64"),
};

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
function seccompFilter(security: SecuritySpec): BigInt64Array | undefined {
  const choice = security.seccomp;
  if (choice.kind === "unconfined") return undefined;
  try {
    if (choice.kind === "default" && sameNames(security.capabilities, DEFAULT_CAPABILITIES)) return builtDefaultFilter(hostSeccompArch());
    const profile = choice.kind === "default" ? DEFAULT_PROFILE : parseDockerProfile(choice.text, choice.path);
    if (!profile) return undefined;
    // docker's rule: a profile's capability conditions are read against the bounding set
    const target = { arch: hostSeccompArch(), caps: new Set(security.capabilities), kernel: release() };
    return packFilter(compileFilter(profile, target));
  } catch (err) {
    throw new CboxError(`seccomp: ${(err as Error).message}`);
  }
}

function builtDefaultFilter(arch: SeccompArch): BigInt64Array {
  const bytes = Buffer.from(BUILT_DEFAULT_FILTERS[arch], "base64");
  const filter = new BigInt64Array(bytes.length / 8);
  new Uint8Array(filter.buffer).set(bytes);
  return filter;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name) => b.includes(name));
}
