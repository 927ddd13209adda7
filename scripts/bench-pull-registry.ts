// Registry pull: cbox pull vs podman pull vs skopeo copy of the same image from Debian's
// docker-registry on 127.0.0.1 (plain HTTP, no auth), one hyperfine run per image: the
// three-layer test image (test/fixtures/oci-images.ts) and a Debian bookworm minbase made with
// debootstrap from the mirror apt uses, one gzip layer. Called at the end of bench-pull.ts
// (alone with BENCH_ONLY=registry); writes its own section of BENCHMARKS.md.
//
// Env: BENCH_RUNS_SMALL (default 20), BENCH_RUNS_LARGE (default 5), BENCH_CACHE (where the
//      minbase tarball is kept, default /var/cache/cbox-bench).
//
// Every run starts from nothing: the prepare command moves the last run's store, storage,
// folder and caches aside into a trash folder, removed after all the runs, then syncs (so one
// run's writeback is not paid by the next). Not deleted between runs because after thousands of
// files are deleted, ext4 is slow to create files for a minute (its inode allocator skips the
// recently freed ones, seen with perf): each command would pay for the one before it. podman runs
// in a private mount namespace: whatever its overlay driver mounts dies with it, and its
// blob-info cache (root's is /var/lib/containers/cache, no flag moves it) is a fresh folder
// bind-mounted there for that run only.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { IMAGES, pushImage, removeImageLayout, skopeo } from "../test/fixtures/oci-images.ts";
import { startRegistry, type Registry } from "../test/fixtures/registry.ts";
import { addSbinToPath, debianMirror } from "./test-server/host.ts";
import { type Bench, type Row, hyperfine, line, machineLine, ms, q, run, version, writeSection } from "./bench-lib.ts";

const RUNS_SMALL = Number(process.env.BENCH_RUNS_SMALL ?? 20);
const RUNS_LARGE = Number(process.env.BENCH_RUNS_LARGE ?? 5);
const WARMUP_SMALL = 3;
const WARMUP_LARGE = 1;
const CACHE = process.env.BENCH_CACHE ?? "/var/cache/cbox-bench";
const SUITE = "bookworm";
const HOST_CACHE = "/var/lib/containers/cache"; // root's blob-info cache (podman 4 and skopeo 1.9)
const CGROUPS = "/sys/fs/cgroup";

// wrapper and floor are references, not contenders: podman's namespace wrapper alone, and GNU
// tar unpacking the image's uncompressed tar from the disk (writing its files, nothing else).
type Peer = Bench & { tool: "cbox" | "podman" | "skopeo" | "wrapper" | "floor"; shown: string; prepareShown: string };
type Image = { label: string; ref: string; about: string; runs: number; warmup: number; tarball?: string };
type Result = { image: Image; rows: Row[]; list: Peer[] };

const sh = (script: string) => line(["sh", "-c", script]);
/** Shell: each path that exists moved into a new folder under trash. */
const aside = (trash: string, paths: string[]) =>
  `for d in ${line(paths)}; do if [ -e "$d" ]; then mv "$d" "$(mktemp -d -p ${q(trash)})/"; fi; done`;
/** cmd in a private mount namespace, with cache bind-mounted over root's blob-info cache. */
const inNamespace = (cache: string, cmd: string) =>
  ["unshare", "-m", "--propagation", "private", "sh", "-c", `mount --bind ${q(cache)} ${HOST_CACHE} && exec ${cmd}`];
const podmanPull = (cache: string, root: string, runroot: string, driver: string, ref: string) =>
  inNamespace(cache, line(["podman", "--root", root, "--runroot", runroot, "--storage-driver", driver, "--events-backend", "none", "pull", "-q", "--tls-verify=false", ref]));
const debArch = () => ({ x64: "amd64", arm64: "arm64" })[process.arch as string] ?? process.arch;

/** The peers pulling ref, each with its own folders under dir. */
function peers(cbox: string, image: Image, dir: string, runDir: string, drivers: string[], withWrapper: boolean): Peer[] {
  const { ref, tarball } = image;
  const trash = join(dir, "trash");
  const p = (name: string) => join(dir, name);
  const cache = p("podman-cache");
  const list: Peer[] = [
    {
      tool: "cbox", name: `cbox ${version([cbox, "version"])}`,
      cmd: line([cbox, "pull", "-q", "--root", p("store"), ref]),
      prepare: sh(`${aside(trash, [p("store")])} && sync`),
      shown: "dist/cbox pull -q --root STORE REF", prepareShown: "move STORE aside && sync",
    },
    ...drivers.map((driver): Peer => {
      const [root, runroot] = [p(`podman-${driver}`), join(runDir, driver)];
      return {
        tool: "podman", name: `podman ${version(["podman", "--version"])} (${driver})`,
        cmd: line(podmanPull(cache, root, runroot, driver, ref)),
        prepare: sh(`rm -rf ${q(runroot)} && ${aside(trash, [root, cache])} && mkdir ${q(cache)} && sync`),
        shown: `unshare -m --propagation private sh -c 'mount --bind CACHE ${HOST_CACHE} && exec podman --root R --runroot RR --storage-driver ${driver} --events-backend none pull -q --tls-verify=false REF'`,
        prepareShown: "rm -rf RR && move R CACHE aside && mkdir CACHE && sync",
      };
    }),
    {
      tool: "skopeo", name: `skopeo ${version(["skopeo", "--version"])}`,
      // As root, skopeo 1.9 keeps its cache in /var/lib/containers/cache whatever its flags;
      // _CONTAINERS_ROOTLESS_UID makes it use XDG_DATA_HOME instead (test/fixtures/oci-images.ts).
      cmd: line(["env", `XDG_DATA_HOME=${p("skopeo-home")}`, "_CONTAINERS_ROOTLESS_UID=1", "skopeo", "copy", "-q", "--src-tls-verify=false", `docker://${ref}`, `dir:${p("skopeo-dir")}`]),
      prepare: sh(`${aside(trash, [p("skopeo-dir"), p("skopeo-home")])} && mkdir ${q(p("skopeo-home"))} && sync`),
      shown: "env XDG_DATA_HOME=HOME _CONTAINERS_ROOTLESS_UID=1 skopeo copy -q --src-tls-verify=false docker://REF dir:DIR",
      prepareShown: "move DIR HOME aside && mkdir HOME && sync",
    },
  ];
  if (tarball) {
    list.push({
      tool: "floor", name: `tar ${version(["tar", "--version"])} -xf of the uncompressed tar`,
      cmd: line(["tar", "-xf", tarball, "-C", p("tar-dir")]),
      prepare: sh(`${aside(trash, [p("tar-dir")])} && mkdir ${q(p("tar-dir"))} && sync`),
      shown: "tar -xf TARBALL -C DIR", prepareShown: "move DIR aside && mkdir DIR && sync",
    });
  }
  if (withWrapper) {
    list.push({
      tool: "wrapper", name: "podman's namespace wrapper alone",
      cmd: line(inNamespace(cache, "true")), prepare: sh(`rm -rf ${q(cache)} && mkdir ${q(cache)}`), // a few files: removed
      shown: `unshare -m --propagation private sh -c 'mount --bind CACHE ${HOST_CACHE} && exec true'`, prepareShown: "rm -rf CACHE && mkdir CACHE",
    });
  }
  return list;
}

/** The podman storage drivers that can pull here (overlay, vfs), each tried once. */
function workingDrivers(ref: string, dir: string, runDir: string): string[] {
  const drivers: string[] = [];
  for (const driver of ["overlay", "vfs"]) {
    const [root, runroot, cache] = [join(dir, `probe-${driver}`), join(runDir, driver), join(dir, "probe-cache")];
    mkdirSync(cache, { recursive: true });
    const p = Bun.spawnSync(podmanPull(cache, root, runroot, driver, ref), { stdout: "pipe", stderr: "pipe" });
    if (p.exitCode === 0) drivers.push(driver);
    else console.warn(`podman's ${driver} driver cannot pull here, left out: ${p.stderr.toString().trim().split("\n").pop()}`);
    rmSync(root, { recursive: true, force: true });
    rmSync(runroot, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
  if (!drivers.length) throw new Error("podman can pull with neither the overlay nor the vfs driver here");
  return drivers;
}

// ---- the minbase image -----------------------------------------------------------------------

/**
 * Debian minbase as a tarball, made by debootstrap from the mirror apt uses and kept in CACHE.
 * The key beside it names the recipe and the suite's Release file: any change rebuilds.
 */
async function minbaseTarball(work: string): Promise<string> {
  const mirror = debianMirror(SUITE);
  const tarball = join(CACHE, `minbase-${debArch()}.tar`);
  const release = await fetch(`${mirror.replace(/\/$/, "")}/dists/${SUITE}/Release`)
    .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .catch((e: Error) => {
      if (existsSync(tarball)) return console.warn(`cannot read the mirror's ${SUITE} Release file (${e.message}): using ${tarball} as it is`);
      throw new Error(`cannot read the mirror's ${SUITE} Release file (${e.message}), and ${tarball} is not made yet`);
    });
  if (release === undefined) return tarball;
  const recipe = {
    suite: SUITE, variant: "minbase", arch: debArch(), debootstrap: run(["dpkg-query", "-W", "-f", "${Version}", "debootstrap"], { quiet: true }),
    mirror: new Bun.CryptoHasher("sha256").update(mirror).digest("hex"), release: new Bun.CryptoHasher("sha256").update(release).digest("hex"),
    tar: "--numeric-owner --sort=name, /dev /proc /sys /run emptied",
  };
  const key = JSON.stringify(recipe);
  if (existsSync(tarball) && (await Bun.file(`${tarball}.key`).exists()) && (await Bun.file(`${tarball}.key`).text()) === key) return tarball;

  console.log(`building the ${SUITE} minbase tarball with debootstrap (a few minutes; kept in ${CACHE})`);
  const root = join(work, "minbase");
  // In a private mount namespace: the /proc and /sys debootstrap mounts cannot outlive it.
  run(["unshare", "-m", "--propagation", "private", "debootstrap", "--variant=minbase", `--arch=${debArch()}`, SUITE, root, mirror], { quiet: true });
  mkdirSync(CACHE, { recursive: true });
  const part = `${tarball}.part`;
  run(["tar", "-C", root, "--numeric-owner", "--sort=name", "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./run/*", "-cf", part, "."]);
  rmSync(root, { recursive: true, force: true });
  renameSync(part, tarball);
  writeFileSync(`${tarball}.key`, key);
  return tarball;
}

/** The minbase tarball as a one-layer OCI image (umoci gzips it), pushed with skopeo. */
async function pushMinbase(reg: Registry, work: string): Promise<{ ref: string; tarball: string; compressed: number; uncompressed: number; files: number }> {
  const tarball = await minbaseTarball(work);
  const layout = join(work, "minbase-oci");
  const image = `${layout}:minbase`;
  run(["umoci", "init", "--layout", layout]);
  run(["umoci", "new", "--image", image]);
  run(["umoci", "raw", "add-layer", "--image", image, "--history.created_by", `debootstrap --variant=minbase ${SUITE}`, tarball]);
  const ref = `${reg.host}/bench/minbase:${SUITE}`;
  const pushed = await skopeo(["copy", "-q", "--dest-tls-verify=false", `oci:${image}`, `docker://${ref}`]);
  if (pushed.code !== 0) throw new Error(`skopeo copy oci:${image} docker://${ref}: ${pushed.stderr.trim()}`);
  rmSync(layout, { recursive: true, force: true });
  const manifest = await fetch(`${reg.url}/v2/bench/minbase/manifests/${SUITE}`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } }).then((r) => r.json());
  const files = Number(run(["sh", "-c", `tar -tf ${q(tarball)} | wc -l`], { quiet: true }).trim());
  return { ref, tarball, compressed: manifest.layers[0].size, uncompressed: statSync(tarball).size, files };
}

/** The layers' tar streams' total size, gunzipped from the registry. */
async function unpackedBytes(reg: Registry, repo: string, layers: { digest: string }[]): Promise<number> {
  let total = 0;
  for (const l of layers) total += Bun.gunzipSync(new Uint8Array(await (await fetch(`${reg.url}/v2/${repo}/blobs/${l.digest}`)).arrayBuffer())).length;
  return total;
}

// ---- the report ------------------------------------------------------------------------------

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function table(rows: Row[], list: Peer[]): string[] {
  const cbox = rows[list.findIndex((p) => p.tool === "cbox")]!;
  return [
    "| command | mean ms | ± ms | min ms | max ms | vs cbox |",
    "|---|--:|--:|--:|--:|--:|",
    ...rows.map((r, i) => `| ${r.name} | ${ms(r.mean)} | ${ms(r.stddev)} | ${ms(r.min)} | ${ms(r.max)} | ${["wrapper", "floor"].includes(list[i]!.tool) ? "" : `${ms(r.mean / cbox.mean)}x`} |`),
  ];
}

/** Whether cbox's mean is at most the fastest podman's, in one line. */
function verdict(image: Image, rows: Row[], list: Peer[]): { line: string; driver: string } {
  const cbox = rows[list.findIndex((p) => p.tool === "cbox")]!;
  const podmans = rows.filter((_, i) => list[i]!.tool === "podman").sort((a, b) => a.mean - b.mean);
  const best = podmans[0]!;
  const driver = /\((\w+)\)$/.exec(best.name)?.[1] ?? "?";
  const met = cbox.mean <= best.mean;
  const line = `- ${image.label}: goal ${met ? "met" : "NOT met"}: cbox ${ms(cbox.mean)} ms, podman (${driver}, the faster driver here) ${ms(best.mean)} ms: cbox takes ${ms(cbox.mean / best.mean)}x podman's time.`;
  return { line, driver };
}

function report(results: Result[], drivers: string[], load: number): string {
  const verdicts = results.map((r) => verdict(r.image, r.rows, r.list));
  const wrapper = results.flatMap((r) => r.rows.filter((_, i) => r.list[i]!.tool === "wrapper"))[0];
  const all = [...new Map(results.flatMap((r) => r.list).map((p) => [p.shown, p])).values()];
  const floorRow = results.flatMap((r) => r.rows.filter((_, i) => r.list[i]!.tool === "floor"))[0];
  const floor = floorRow !== undefined;
  const spread = floorRow && floorRow.stddev > 0.2 * floorRow.mean
    ? ` Here even that floor spreads from ${ms(floorRow.min)} to ${ms(floorRow.max)} ms: the disk's time to create the same files varies from run to run, so compare the means.`
    : "";
  return [
    "## Registry pull",
    "",
    "Time to pull an image from Debian's `docker-registry` (distribution 2.8, started by `test/fixtures/registry.ts`) " +
      "on 127.0.0.1 over plain HTTP, into empty storage on the disk, by cbox, podman and skopeo (skopeo copies the blobs into a folder and unpacks nothing: " +
      "a floor for the download alone).",
    "",
    "Goal: cbox's pull no slower than podman's.",
    "",
    ...verdicts.map((v) => v.line),
    "",
    ...results.flatMap(({ image, rows, list }) => [
      `### ${image.label}`,
      "",
      image.about,
      "",
      ...table(rows, list),
      "",
      `${machineLine(image.runs, image.warmup)} · load average ${load.toFixed(2)} before the benchmark began (the machine may be shared) · commands run without a shell (\`hyperfine -N\`)`,
      "",
    ]),
    `podman ran with ${drivers.map((d) => `\`--storage-driver ${d}\``).join(" and ")} ` +
      (drivers.length > 1 ? "in the same runs; each verdict above is against the faster of the two for that image. " : `(the ${drivers[0] === "vfs" ? "overlay" : "vfs"} driver failed here). `) +
      "Its rows include its wrapper: `unshare` into a private mount namespace (so nothing the overlay driver mounts outlives it) " +
      `and a bind mount of a fresh folder over ${HOST_CACHE}, podman's blob-info cache as root (podman 4.3 has no flag to move it)` +
      (wrapper ? `; the wrapper alone takes ${ms(wrapper.mean)} ms (row above).` : ".") +
      " skopeo's rows include one exec more, `env`'s, which moves its cache with environment variables." +
      (floor ? ` The tar row is GNU tar unpacking the image's uncompressed tar from the disk: no download, gunzip or hashing, only the writing of the same files, a floor for any unpack here.${spread}` : ""),
    "",
    "Commands (`bun scripts/bench-pull.ts`, or only these with `BENCH_ONLY=registry`), each after its prepare command; " +
      "the `sync` in each prepare keeps one run's writeback out of the next. A run's files are moved aside, not deleted, and removed after " +
      "all the runs: ext4 creates files slowly for a minute after thousands are deleted (its inode allocator skips the recently freed ones), " +
      "which would make each command pay for the one before it. STORE, R, DIR and the caches are on the disk " +
      "(ext4, under TMPDIR), podman's RR on tmpfs in /run, as its default /run/containers/storage:",
    "",
    ...all.filter((p) => p.tool !== "wrapper").map((p) => `- ${p.name.replace(/ \d[\d.]*/, "")}: \`${p.shown}\` (prepare: \`${p.prepareShown}\`)`),
  ].join("\n");
}

// ---- leftovers -------------------------------------------------------------------------------

const libpodCgroups = () =>
  readdirSync(CGROUPS).map((c) => join(CGROUPS, c, "libpod_parent")).filter((d) => existsSync(d));

/** Empty libpod_parent cgroups podman made during the benchmark (not those there before). */
function removeNewCgroups(before: string[]): void {
  for (const dir of libpodCgroups().filter((d) => !before.includes(d))) {
    try {
      rmdirSync(dir);
    } catch (e) {
      console.warn(`left ${dir}: ${(e as Error).message}`);
    }
  }
}

// ---- the benchmark ---------------------------------------------------------------------------

/** Times the registry pulls and writes the "bench-pull-registry" section; tmp is on the disk. */
export async function benchRegistryPull(cbox: string, tmp: string): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the registry pull benchmark needs root (podman's storage, debootstrap, bind mounts)");
  addSbinToPath();
  const missing = [["podman", "podman"], ["skopeo", "skopeo"], ["umoci", "umoci"], ["docker-registry", "docker-registry"], ["debootstrap", "debootstrap"], ["unshare", "util-linux"]]
    .filter(([cmd]) => !Bun.which(cmd!)).map(([, pkg]) => pkg);
  if (missing.length) throw new Error(`the registry pull benchmark needs: apt-get install -y ${missing.join(" ")}`);

  const load = loadavg()[0]!; // before this benchmark's own work shows in it
  const cgroupsBefore = libpodCgroups();
  const madeHostCache = !existsSync(HOST_CACHE); // the bind mounts need it to stand somewhere
  const madeParent = !existsSync(join(HOST_CACHE, ".."));
  const work = join(tmp, "registry");
  mkdirSync(join(work, "trash"), { recursive: true });
  // Every run's files stay in the trash until the end: about 1.2 GB a minbase run (five copies).
  const needed = (RUNS_LARGE + WARMUP_LARGE) * 1.2e9 + 1e9;
  const free = Number(run(["df", "--output=avail", "-B1", work], { quiet: true }).trim().split("\n").pop());
  if (free < needed) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(`the registry pull benchmark needs about ${mb(needed)} free under ${tmp}, there is ${mb(free)}: set TMPDIR to a roomier disk`);
  }
  // podman's runroot, on tmpfs as its default /run/containers/storage: the overlay driver
  // refuses a runroot path longer than 50 characters.
  const runDir = mkdtempSync("/run/cbox-bench-");
  if (madeHostCache) mkdirSync(HOST_CACHE, { recursive: true, mode: 0o700 });
  let reg: Registry | undefined;
  try {
    reg = await startRegistry({ dir: work });
    const small = await pushImage(reg, "layered");
    await removeImageLayout();
    const smallBytes = small.manifest!.layers.reduce((n, l) => n + l.size, 0);
    const smallTar = await unpackedBytes(reg, small.repo, small.manifest!.layers);
    const large = await pushMinbase(reg, work);

    const drivers = workingDrivers(small.ref, work, runDir);
    const images: Image[] = [
      {
        label: "Three-layer test image", ref: small.ref, runs: RUNS_SMALL, warmup: WARMUP_SMALL,
        about: `\`${IMAGES.layered.repo}:${IMAGES.layered.tag}\` from \`test/fixtures/oci-images.ts\`: the busybox rootfs of \`rootfs/build.sh\` and two small layers ` +
          `(a whiteout, an opaque folder, a hard link), built with umoci, ${small.manifest!.layers.length} gzip layers, ${mb(smallBytes)} compressed, ${mb(smallTar)} uncompressed (the tars).`,
      },
      {
        label: `Debian ${SUITE} minbase`, ref: large.ref, runs: RUNS_LARGE, warmup: WARMUP_LARGE, tarball: large.tarball,
        about: `\`debootstrap --variant=minbase ${SUITE}\` from the Debian mirror apt uses (${large.files} entries; /dev, /proc, /sys and /run emptied), ` +
          `made one gzip layer with \`umoci raw add-layer\` and pushed with skopeo: ${mb(large.compressed)} compressed, ${mb(large.uncompressed)} uncompressed (the tar).`,
      },
    ];
    const results: Result[] = [];
    for (const image of images) {
      const list = peers(cbox, image, work, runDir, drivers, image === images[0]);
      console.log(`\n${image.label}: ${image.ref}`);
      const rows = await hyperfine(list, { runs: image.runs, warmup: image.warmup, tmp: work });
      results.push({ image, rows, list });
    }
    const body = report(results, drivers, load);
    await writeSection("bench-pull-registry", body);
    console.log(`\n${body}`);
  } finally {
    await reg?.stop();
    await removeImageLayout();
    rmSync(work, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
    if (madeHostCache) rmSync(madeParent ? join(HOST_CACHE, "..") : HOST_CACHE, { recursive: true, force: true });
    removeNewCgroups(cgroupsBefore);
  }
}
