// Builds dist/cbox (and dist/cbox-linux-arm64 with --all when Bun can cross-compile it).
import { $ } from "bun";

const targets: [string, string][] = [[`bun-linux-${process.arch === "arm64" ? "arm64" : "x64"}`, "dist/cbox"]];
if (process.argv.includes("--all")) targets.push([process.arch === "arm64" ? "bun-linux-x64" : "bun-linux-arm64", `dist/cbox-linux-${process.arch === "arm64" ? "x64" : "arm64"}`]);

for (const [target, outfile] of targets) {
  await $`bun build --compile --minify --target=${target} src/main.ts --outfile ${outfile}`.quiet();
  console.log(`built ${outfile} (${target})`);
}
