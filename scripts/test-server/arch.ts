// The guest architectures the server test boots, named as the release names its binaries
// (cbox-linux-x64, cbox-linux-arm64). Both run on an x86_64 host: arm64 is emulated.

export type Arch = "x64" | "arm64";
export const ARCHES: Arch[] = ["x64", "arm64"];

export interface ArchInfo {
  debian: string; // dpkg's name: the image's packages and debootstrap --arch
  alpine: string; // uname -m, and Alpine's name in the mirror's paths
  /** A run with a cached image took about 90 s on x64 and 125 to 165 s on arm64 (2 host CPUs). */
  defaultTimeoutS: number;
}

export const ARCH_INFO: Record<Arch, ArchInfo> = {
  x64: { debian: "amd64", alpine: "x86_64", defaultTimeoutS: 600 },
  arm64: { debian: "arm64", alpine: "aarch64", defaultTimeoutS: 900 },
};
