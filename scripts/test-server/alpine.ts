// The Alpine mirror the guest pulls from (test/fixtures/mirror.ts): a minirootfs of the guest's
// architecture, since its containers run its binaries. The arm64 one needs busybox-static:arm64,
// which cannot be installed beside the host's busybox (it is the same /bin/busybox): its .deb is
// downloaded with apt (from the mirror apt uses) and unpacked into the cache, once.
import { existsSync, mkdirSync, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { buildReleases, mirrorFiles } from "../../test/fixtures/mirror.ts";
import { ARCH_INFO, type Arch } from "./arch.ts";
import { removeTree } from "./image.ts";
import { run, StepError } from "./shell.ts";

export const ALPINE = { branch: "v3.20", version: "3.20.3" };

/** The mirror's files by their path under /alpine/. */
export async function alpineMirror(workDir: string, arch: Arch, cacheDir: string): Promise<Map<string, Uint8Array | string>> {
  const busybox = arch === "x64" ? undefined : await foreignBusybox(arch, workDir, cacheDir);
  const releases = await buildReleases(join(workDir, "mirror"), [ALPINE], ARCH_INFO[arch].alpine, busybox);
  return mirrorFiles(releases, { latestStable: ALPINE.branch });
}

/** busybox-static:ARCH's /bin/busybox, unpacked in the cache. */
export async function foreignBusybox(arch: Arch, workDir: string, cacheDir: string): Promise<string> {
  const pkg = `busybox-static:${ARCH_INFO[arch].debian}`;
  const dir = join(cacheDir, `busybox-static-${ARCH_INFO[arch].debian}`);
  const busybox = join(dir, "bin/busybox");
  if (existsSync(busybox)) return busybox;
  const download = join(workDir, "busybox-deb");
  mkdirSync(download, { recursive: true });
  // apt's sandbox user may not write into the run's root-only folder; the download is as root anyway.
  await run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", pkg], { cwd: download }).catch((err: Error) => {
    throw new StepError(`apt-get download ${pkg} failed (does dpkg know arm64? dpkg --add-architecture arm64 && apt-get update): ${err.message}`);
  });
  const deb = readdirSync(download).find((f) => f.endsWith(".deb"));
  if (!deb) throw new StepError(`apt-get download ${pkg} left no .deb in ${download}`);
  const partial = `${dir}.partial`;
  mkdirSync(cacheDir, { recursive: true });
  removeTree(partial);
  await run(["dpkg-deb", "-x", join(download, deb), partial]);
  removeTree(dir);
  renameSync(partial, dir);
  return busybox;
}
