// Writes a static Alpine mirror tree for the benchmarks: OUTDIR/alpine is BASE, with
// vX.Y/releases/ARCH/{latest-releases.yaml, minirootfs tarball, .sha256} and
// latest-stable/ a symlink to vX.Y. Serve it with any static file server.
// Usage: bun scripts/make-mirror.ts OUTDIR [VERSION=3.20.3]
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { buildReleases, mirrorFiles, tarballName } from "../test/fixtures/mirror.ts";

const [outArg, version = "3.20.3"] = process.argv.slice(2);
if (!outArg || !/^\d+\.\d+\.\d+$/.test(version)) {
  console.error("usage: bun scripts/make-mirror.ts OUTDIR [VERSION=3.20.3]");
  process.exit(2);
}
const out = resolve(outArg);
const base = join(out, "alpine");
const branch = `v${version.split(".").slice(0, 2).join(".")}`;

const work = join(out, ".build");
const releases = await buildReleases(work, [{ branch, version }]);
rmSync(work, { recursive: true, force: true });
rmSync(base, { recursive: true, force: true });
for (const [path, body] of mirrorFiles(releases, { latestStable: branch })) {
  if (path.startsWith("latest-stable/")) continue;
  mkdirSync(dirname(join(base, path)), { recursive: true });
  writeFileSync(join(base, path), body);
}
symlinkSync(branch, join(base, "latest-stable"));

const [r] = releases;
console.log(`${join(base, branch, "releases", r.arch, tarballName(r))} ${r.tarball.length} bytes`);
