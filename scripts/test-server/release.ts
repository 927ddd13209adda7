// The release the guest installs: --release DIR, or dist/release/, rebuilt with `npm run release`
// (scripts/release.ts) when it is missing or older than what it is built from.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Arch } from "./arch.ts";
import { QEMU_AARCH64 } from "./binfmt.ts";
import { RELEASE_FILES } from "./serve.ts";
import { run, StepError } from "./shell.ts";

const REPO = resolve(import.meta.dir, "../..");
const DEFAULT_DIR = join(REPO, "dist/release");
/** What the release is built from: a change in any of these makes dist/release/ stale. */
const INPUTS = ["src", "scripts/install.sh", "scripts/build.ts", "scripts/shim-lib.ts", "scripts/release.ts", "package.json", "package-lock.json"];

export interface Release {
  dir: string;
  version: string; // the first line of `cbox-linux-ARCH version`: what the installed cbox must say
}

export async function ensureRelease(given: string | undefined, arch: Arch): Promise<Release> {
  const dir = given ? resolve(given) : DEFAULT_DIR;
  const missing = RELEASE_FILES.filter((f) => !existsSync(join(dir, f)));
  if (given && missing.length) throw new StepError(`--release ${given}: no ${missing.join(", ")} there; give the folder npm run release writes (dist/release)`);
  if (!given && (missing.length || newestInput() > oldestFile(dir))) {
    console.log(`release: ${missing.length ? "dist/release/ is incomplete" : "dist/release/ is older than its sources"}; running npm run release`);
    const proc = Bun.spawn([process.execPath, join(REPO, "scripts/release.ts")], { cwd: REPO, stdout: "inherit", stderr: "inherit" });
    if ((await proc.exited) !== 0) throw new StepError("npm run release failed (see above)");
  }
  const binary = join(dir, `cbox-linux-${arch}`);
  const version = (await run(arch === "arm64" ? [QEMU_AARCH64, binary, "version"] : [binary, "version"])).split("\n")[0]!.trim();
  return { dir, version };
}

function newestInput(): number {
  let newest = 0;
  const visit = (path: string) => {
    if (!existsSync(path)) return;
    const s = statSync(path);
    newest = Math.max(newest, s.mtimeMs);
    if (s.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  for (const input of INPUTS) visit(join(REPO, input));
  return newest;
}

function oldestFile(dir: string): number {
  return Math.min(...RELEASE_FILES.map((f) => statSync(join(dir, f)).mtimeMs));
}
