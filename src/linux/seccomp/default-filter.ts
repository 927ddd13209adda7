// The default profile's filter for docker's default capabilities, compiled when cbox is built:
// lockdown.ts imports defaultFilterBase64 as a Bun macro, so the executable holds its result.
// Compiling it at start cost ~1.2 ms of every start (measured); a container with other
// capabilities or another profile still gets its filter compiled at start.
import { MIN_KERNEL } from "../../host/kernel.ts";
import { DEFAULT_CAPABILITIES } from "../capabilities.ts";
import type { SeccompArch } from "./arch.ts";
import { packFilter } from "./bpf.ts";
import { compileFilter } from "./compile.ts";
import { DEFAULT_PROFILE } from "./default-profile.ts";

/** The packed filter's bytes in base64. Refuses to build when the filter would differ by kernel. */
export function defaultFilterBase64(arch: SeccompArch): string {
  const compile = (kernel: string) =>
    Buffer.from(packFilter(compileFilter(DEFAULT_PROFILE, { arch, caps: new Set(DEFAULT_CAPABILITIES), kernel })).buffer);
  const oldest = compile(MIN_KERNEL.join("."));
  if (!oldest.equals(compile("999.0"))) throw new Error(`the default seccomp filter for ${arch} depends on the kernel: it cannot be compiled at build time`);
  return oldest.toString("base64");
}
