// Running arm64 programs on this x86_64 host while the arm64 image is built: debootstrap's second
// stage, the packages' scripts and update-initramfs all run inside the arm64 root (chroot).
//
// The kernel hands an aarch64 ELF to qemu-aarch64-static through a binfmt_misc entry. It is
// registered with F (the kernel opens the interpreter at registration, so it works inside a chroot
// that has no qemu) and P (argv[0] is kept: qemu 7.2 reads that from the kernel). It exists only
// for the build, under a name of its own, and is removed afterwards; an enabled entry the host
// already has for qemu-aarch64 with F is used and left alone.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, StepError } from "./shell.ts";

const DIR = "/proc/sys/fs/binfmt_misc";
const NAME = "cbox-test-server-aarch64";
export const QEMU_AARCH64 = "/usr/bin/qemu-aarch64-static";
// An ELF64, little-endian, executable or shared object (e_type 2 or 3), e_machine 183 (aarch64):
// as qemu-user-static's own entry (/usr/share/binfmts/qemu-aarch64).
const MAGIC = String.raw`\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00`;
const MASK = String.raw`\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`;

/** Runs step with aarch64 executables runnable on this host (and in its chroots), then undoes what it set up. */
export async function withAarch64Emulation<T>(step: () => Promise<T>): Promise<T> {
  let mounted = false;
  if (!existsSync(join(DIR, "register"))) {
    await run(["mount", "-t", "binfmt_misc", "binfmt_misc", DIR]);
    mounted = true;
  }
  let registered = false;
  try {
    if (readFileSync(join(DIR, "status"), "utf8").trim() !== "enabled") {
      throw new StepError(`binfmt_misc is disabled on this host (${DIR}/status); the arm64 image needs it to run arm64 programs`);
    }
    const existing = usableEntry();
    if (existing) console.log(`image: arm64 programs run through the host's binfmt_misc entry ${existing}`);
    else {
      removeEntry(); // left by a run that was killed
      writeFileSync(join(DIR, "register"), `:${NAME}:M::${MAGIC}:${MASK}:${QEMU_AARCH64}:FP`);
      registered = true;
    }
    return await step();
  } finally {
    if (registered) removeEntry();
    if (mounted) Bun.spawnSync(["umount", DIR]);
  }
}

function removeEntry(): void {
  if (existsSync(join(DIR, NAME))) writeFileSync(join(DIR, NAME), "-1");
}

/** The name of an enabled entry that runs aarch64 ELF files through qemu with F, if the host has one. */
function usableEntry(): string | undefined {
  for (const name of readdirSync(DIR)) {
    if (name === "register" || name === "status" || name === NAME) continue;
    let entry: string;
    try {
      entry = readFileSync(join(DIR, name), "utf8");
    } catch {
      continue; // removed meanwhile
    }
    const field = (key: string) => new RegExp(`^${key}[: ]\\s*(.*)$`, "m").exec(entry)?.[1]?.trim() ?? "";
    const aarch64 = field("magic").startsWith("7f454c460201010000000000000000000200b700");
    if (entry.startsWith("enabled") && aarch64 && /qemu-aarch64|aarch64-binfmt/.test(field("interpreter")) && field("flags").includes("F")) return name;
  }
  return undefined;
}
