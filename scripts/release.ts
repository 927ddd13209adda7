// npm run release: dist/release/ with the executables for both Linux architectures, their
// SHA256SUMS (sha256sum's format) and install.sh, ready to publish as they are.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildBinary, hostArch, restoreHostShim } from "./build.ts";
import type { Arch } from "./shim-lib.ts";

const repo = join(import.meta.dir, "..");
const out = join(repo, "dist/release");
const arches: Arch[] = ["x64", "arm64"];
const installer = join(repo, "scripts/install.sh");

function fail(message: string): never {
  console.error(`release: ${message}`);
  process.exit(1);
}

if (!existsSync(installer)) fail("scripts/install.sh is missing");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const sums: string[] = [];
for (const arch of arches) {
  const file = `cbox-linux-${arch}`;
  const error = await buildBinary(arch, join(out, file));
  if (error) fail(error);
  sums.push(`${new Bun.CryptoHasher("sha256").update(readFileSync(join(out, file))).digest("hex")}  ${file}`);
  console.log(`built ${file}`);
}
restoreHostShim();
copyFileSync(installer, join(out, "install.sh"));
writeFileSync(join(out, "SHA256SUMS"), `${sums.join("\n")}\n`);

// The host's executable must at least say what it is before it is published.
const check = Bun.spawnSync([join(out, `cbox-linux-${hostArch}`), "version"]);
if (check.exitCode !== 0) fail(`cbox-linux-${hostArch} version failed: ${check.stderr}`);
console.log(`${check.stdout.toString().trim()}: dist/release/{${arches.map((a) => `cbox-linux-${a}`).join(",")},SHA256SUMS,install.sh}`);
