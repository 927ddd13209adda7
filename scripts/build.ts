// Builds dist/cbox for this machine's architecture, then tries the other Linux architecture
// (dist/cbox-linux-arm64 or dist/cbox-linux-x64); Bun fetches that runtime from the package
// registry, so a machine that cannot reach it gets a warning, not a failure.
import { $ } from "bun";

const host = process.arch === "arm64" ? "arm64" : "x64";
const other = host === "arm64" ? "x64" : "arm64";

async function build(target: string, outfile: string): Promise<boolean> {
  const res = await $`bun build --compile --minify --bytecode --format=esm --target=bun-linux-${target} src/main.ts --outfile ${outfile}`.quiet().nothrow();
  if (res.exitCode !== 0) {
    console.error(`build ${outfile} failed:\n${res.stderr}`);
    return false;
  }
  console.log(`built ${outfile} (linux-${target})`);
  return true;
}

if (!(await build(host, "dist/cbox"))) process.exit(1);
if (!process.argv.includes("--host-only") && !(await build(other, `dist/cbox-linux-${other}`))) {
  console.error(`warning: no cross-built linux-${other} binary; dist/cbox is fine`);
}
