// Alpine's names for CPU architectures.
import { CboxError } from "../errors.ts";

const alpineArch: Record<string, string> = {
  x64: "x86_64",
  arm64: "aarch64",
  arm: "armv7",
  ia32: "x86",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loongarch64",
};

const known = new Set([...Object.values(alpineArch), "armhf"]);

/** The host's architecture as Alpine names it, or the --arch value when it is one. */
export function imageArch(flag?: string): string {
  if (flag !== undefined) {
    if (!known.has(flag)) throw new CboxError(`--arch ${JSON.stringify(flag)}: not an Alpine architecture (${[...known].join(", ")})`);
    return flag;
  }
  const arch = alpineArch[process.arch];
  if (!arch) throw new CboxError(`no Alpine images for this CPU (${process.arch}); give --arch`);
  return arch;
}
