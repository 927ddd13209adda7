// Platforms as OCI names them (os/architecture[/variant]), and the one of an index that suits.
import { CboxError } from "../../errors.ts";
import type { Descriptor } from "./manifest.ts";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const GOARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

export function hostPlatform(): Platform {
  const architecture = GOARCH[process.arch];
  if (!architecture) throw new CboxError(`no registry images for this CPU (${process.arch}); give --platform`);
  return { os: "linux", architecture, variant: architecture === "arm64" ? "v8" : undefined };
}

/** --platform linux/arm64[/v8]; also docker's aliases (x86_64, aarch64). */
export function parsePlatform(text: string): Platform {
  const parts = text.toLowerCase().split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_]+$/.test(p))) {
    throw new CboxError(`--platform ${JSON.stringify(text)}: give OS/ARCH[/VARIANT], such as linux/amd64 or linux/arm64/v8`);
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  const architecture = ({ x86_64: "amd64", x86: "386", aarch64: "arm64", armhf: "arm" } as Record<string, string>)[arch] ?? arch;
  return { os, architecture, variant: variant ?? (architecture === "arm64" ? "v8" : undefined) };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** arm64's variant is v8 when not given; elsewhere a missing variant matches any. */
function matches(want: Platform, have: Platform): boolean {
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  const variant = have.variant ?? (have.architecture === "arm64" ? "v8" : undefined);
  return !want.variant || !variant || want.variant === variant;
}

/** The index entry for the platform; one line listing what the index has when none fits. */
export function choosePlatform(manifests: Descriptor[], want: Platform, what: string): Descriptor {
  const found = manifests.find((m) => m.platform && matches(want, m.platform));
  if (found) return found;
  const offered = manifests.flatMap((m) => (m.platform && m.platform.os !== "unknown" ? [formatPlatform(m.platform)] : []));
  throw new CboxError(`${what} has no image for ${formatPlatform(want)}; it has ${offered.length ? offered.join(", ") : "none with a platform"} (choose one with --platform)`);
}
