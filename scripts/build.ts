// Builds dist/cbox for this machine's architecture, then tries the other Linux architecture
// (dist/cbox-linux-arm64 or dist/cbox-linux-x64). Each executable embeds the C shim compiled for
// its architecture (scripts/shim-lib.ts). The other architecture needs its cross-compiler and
// Bun's runtime for it (fetched from the package registry): without them `npm run build` warns
// and goes on; `npm run release` (scripts/release.ts) requires both.
import { $ } from "bun";
import { copyFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { hostCpuArch } from "../src/sys/abi.ts";
import { buildShimLibrary, type Arch } from "./shim-lib.ts";

const repo = join(import.meta.dir, "..");
export const hostArch: Arch = hostCpuArch();
/** The path src/sys/shim.ts imports: the library of the executable being built. */
const embeddedShim = join(repo, "dist/shim/cbox-shim.so");
const shimFor = (arch: Arch) => join(repo, `dist/shim/linux-${arch}/cbox-shim.so`);

/** The commit the build comes from ("-dirty" when the work tree has changes), or "unknown". */
async function gitCommit(): Promise<string> {
  const head = await $`git -C ${repo} rev-parse --short=12 HEAD`.quiet().nothrow();
  if (head.exitCode !== 0) return "unknown";
  const dirty = (await $`git -C ${repo} status --porcelain --untracked-files=no`.quiet().nothrow()).stdout.length > 0;
  return head.stdout.toString().trim() + (dirty ? "-dirty" : "");
}

/** Builds the executable for arch into outfile; an error text when it cannot. */
export async function buildBinary(arch: Arch, outfile: string): Promise<string | undefined> {
  const shimError = await buildShimLibrary(arch, shimFor(arch));
  if (shimError) return shimError;
  copyFileSync(shimFor(arch), embeddedShim);
  // --splitting: a command's code is loaded only when it runs. Code in the executable costs
  // start-up time even when unused (all of cbox in one chunk: ~4 ms before main, measured).
  // --no-compile-autoload-*: an executable reads the working folder's bunfig.toml (whose preload
  // runs code) and .env (which sets CBOX_ROOT, PATH...) unless told not to; cbox runs as root.
  const define = `CBOX_COMMIT=${JSON.stringify(await gitCommit())}`;
  // --compile-jit-policy=100: the JIT waits 100 times longer before compiling a function (src/jit.ts).
  const noAutoload = ["--no-compile-autoload-bunfig", "--no-compile-autoload-dotenv", "--no-compile-autoload-tsconfig", "--no-compile-autoload-package-json"];
  const res = await $`bun build --compile --splitting --minify --bytecode --compile-jit-policy=100 --format=esm ${noAutoload} --target=bun-linux-${arch} --define ${define} src/main.ts --outfile ${outfile}`
    .cwd(repo)
    .quiet()
    .nothrow();
  if (res.exitCode !== 0) return `bun build for linux-${arch} failed:\n${res.stderr}`;
  return undefined;
}

/** Leaves the host's shim in the embedded path, for `bun test` and `bun src/main.ts`. */
export function restoreHostShim(): void {
  copyFileSync(shimFor(hostArch), embeddedShim);
}

if (import.meta.main) {
  const other: Arch = hostArch === "arm64" ? "x64" : "arm64";
  const hostError = await buildBinary(hostArch, join(repo, "dist/cbox"));
  if (hostError) {
    console.error(`build dist/cbox failed: ${hostError}`);
    process.exit(1);
  }
  console.log(`built dist/cbox (linux-${hostArch})`);
  // The OCI runtime's name (src/runtime/): engines are pointed at this link.
  rmSync(join(repo, "dist/cbox-runtime"), { force: true });
  symlinkSync("cbox", join(repo, "dist/cbox-runtime"));
  if (!process.argv.includes("--host-only")) {
    const otherError = await buildBinary(other, join(repo, `dist/cbox-linux-${other}`));
    restoreHostShim();
    if (otherError) console.error(`warning: no linux-${other} binary (dist/cbox is fine): ${otherError}`);
    else console.log(`built dist/cbox-linux-${other} (linux-${other})`);
  }
}
