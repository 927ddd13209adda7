// Image pull: cbox pull vs `curl | tar -xz` of the same tarball from a local mirror,
// timed by hyperfine. Writes its own section of BENCHMARKS.md and prints the table.
//
//   bun scripts/bench-pull.ts
//
// Env: BENCH_RUNS (default 30), BENCH_NO_BUILD=1 (reuse dist/cbox), TMPDIR (where the mirror,
//      DIR and STORE go). The unpacking is timed twice: on TMPDIR's file system (a disk, as the
//      store is in real use) and on tmpfs (/dev/shm), where file creation is cheap and what is
//      left is the programs' own work. The goal is judged on the disk.
// Then the registry pulls (scripts/bench-pull-registry.ts, variables of its own); BENCH_ONLY=registry
// runs only those.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { benchRegistryPull } from "./bench-pull-registry.ts";
import { OUT, type Bench, type Row, buildCbox, hyperfine, line, machineLine, ms, run, version, writeSection } from "./bench-lib.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const GOAL = 1.3; // cbox's mean at most this many times curl | tar's
const REF = "alpine:3.20.3";

type Peer = Bench & { shown: string; prepareShown: string };

// Static files under root, 404 for anything else (including paths that leave root).
function serve(root: string) {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = join(root, decodeURIComponent(new URL(req.url).pathname));
      const isFile = !relative(root, path).startsWith("..") && (statSync(path, { throwIfNoEntry: false })?.isFile() ?? false);
      return isFile ? new Response(Bun.file(path)) : new Response("not found\n", { status: 404 });
    },
  });
}

function report(rows: Row[], peers: Peer[], bytes: number, places: string[]): string {
  const cell = (s: string) => s.replaceAll("|", "\\|");
  const on = (place: string) => rows.filter((r) => r.name.endsWith(`on ${place}`));
  const ratioOn = (place: string) => {
    const [curl, cbox] = on(place);
    return cbox!.mean / curl!.mean;
  };
  const vsCurl = (r: Row) => r.mean / rows.find((c) => c.name.startsWith("curl") && c.name.endsWith(r.name.slice(r.name.indexOf(" on "))))!.mean;
  const ratio = ratioOn(places[0]!);
  return [
    "## Image pull",
    "",
    `Time to download the Alpine minirootfs tarball (${(bytes / 1024).toFixed(0)} KiB, built by \`scripts/make-mirror.ts\`) ` +
      `from a static mirror on 127.0.0.1 and unpack it into an empty directory, on ${places.join(" and on ")}.`,
    "",
    "| command | mean ms | ± ms | min ms | max ms | vs curl\\|tar |",
    "|---|--:|--:|--:|--:|--:|",
    ...rows.map(
      (r) => `| ${cell(r.name)} | ${ms(r.mean)} | ${ms(r.stddev)} | ${ms(r.min)} | ${ms(r.max)} | ${ms(vsCurl(r))}x |`,
    ),
    "",
    "cbox does more than the pipe: it first fetches the small `.sha256` file, then verifies the tarball's " +
      "sha256 as it unpacks and records the image in its store.",
    "",
    `${machineLine(RUNS)} · commands run in hyperfine's default shell (\`sh\`, whose startup hyperfine subtracts); ` +
      "the mirror is served by `Bun.serve` from the benchmark's own process.",
    "",
    `Goal: cbox within ${GOAL}x of curl | tar -xz, on the disk. Goal ${ratio <= GOAL ? "met" : "NOT met"}: cbox is ${ms(ratio)}x on ${places[0]}` +
      (places[1] ? `; on ${places[1]} it is ${ms(ratioOn(places[1]))}x (cbox's own start-up and JavaScript unpacking show there).` : "."),
    "",
    "Commands (`bun scripts/bench-pull.ts`), each after its prepare command:",
    "",
    ...peers.filter((p) => p.name.endsWith(`on ${places[0]}`)).map((p) => `- ${p.name.replace(/ on .*/, "")}: \`${p.shown}\` (prepare: \`${p.prepareShown}\`)`),
  ].join("\n");
}

async function main() {
  if (!Bun.which("hyperfine") || !Bun.which("curl")) throw new Error("needs hyperfine and curl: apt-get install -y hyperfine curl");
  const cbox = buildCbox();
  const tmp = mkdtempSync(join(tmpdir(), "cbox-bench-pull-"));
  let server: ReturnType<typeof serve> | undefined;
  let shmDir: string | undefined;
  try {
    if (process.env.BENCH_ONLY === "registry") return await benchRegistryPull(cbox, tmp);
    // make-mirror prints "PATH BYTES bytes" for the tarball it wrote.
    const mirror = join(tmp, "mirror");
    const [tarball, size] = run([process.execPath, "scripts/make-mirror.ts", mirror], { quiet: true }).trim().split(" ");
    server = serve(mirror);
    const base = `http://127.0.0.1:${server.port}`;
    const url = `${base}/${relative(mirror, tarball!)}`;
    const fsType = (dir: string) => run(["df", "--output=fstype", dir], { quiet: true }).trim().split("\n").pop()!;
    const places = [{ base: tmp, label: `${fsType(tmp)} (${tmpdir()})` }];
    const shm = statSync("/dev/shm", { throwIfNoEntry: false })?.isDirectory() && fsType("/dev/shm") !== fsType(tmp);
    if (shm) places.push({ base: mkdtempSync("/dev/shm/cbox-bench-pull-"), label: "tmpfs (/dev/shm)" });
    shmDir = shm ? places[1]!.base : undefined;

    const peers: Peer[] = places.flatMap(({ base: where, label }) => {
      const [dir, store] = [join(where, "unpacked"), join(where, "store")];
      return [
        {
          name: `curl ${version(["curl", "--version"])} | tar ${version(["tar", "--version"])} on ${label}`,
          cmd: `${line(["curl", "-s", url])} | ${line(["tar", "-xz", "-C", dir])}`,
          prepare: `rm -rf ${line([dir])} && mkdir ${line([dir])}`,
          shown: `curl -s URL/${basename(tarball!)} | tar -xz -C DIR`,
          prepareShown: "rm -rf DIR && mkdir DIR",
        },
        {
          name: `cbox on ${label}`,
          cmd: line([cbox, "pull", "-q", "--root", store, "--mirror", `${base}/alpine`, REF]),
          prepare: `rm -rf ${line([store])}`,
          shown: `dist/cbox pull -q --root STORE --mirror URL/alpine ${REF}`,
          prepareShown: "rm -rf STORE",
        },
      ];
    });

    const labels = places.map((p) => p.label);
    const body = report(await hyperfine(peers, { runs: RUNS, tmp, shell: true }), peers, Number(size), labels);
    await writeSection("bench-pull", body);
    console.log(`\n${body}\n\nwrote ${OUT}`);
    await benchRegistryPull(cbox, tmp);
  } finally {
    server?.stop(true);
    rmSync(tmp, { recursive: true, force: true });
    if (shmDir) rmSync(shmDir, { recursive: true, force: true });
  }
}

await main().catch((e) => {
  console.error(`bench-pull: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
