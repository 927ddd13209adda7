// Image pull: cbox pull vs `curl | tar -xz` of the same tarball from a local mirror,
// timed by hyperfine. Writes its own section of BENCHMARKS.md and prints the table.
//
//   bun scripts/bench-pull.ts
//
// Env: BENCH_RUNS (default 30), BENCH_NO_BUILD=1 (reuse dist/cbox), TMPDIR (where the mirror,
//      DIR and STORE go; its file system's metadata speed can dominate the times).
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
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

function report(rows: Row[], peers: Peer[], bytes: number, fs: string): string {
  const curl = rows.find((r) => r.name.startsWith("curl"))!;
  const cbox = rows.find((r) => r.name.startsWith("cbox"))!;
  const cell = (s: string) => s.replaceAll("|", "\\|");
  const ratio = cbox.mean / curl.mean;
  return [
    "## Image pull",
    "",
    `Time to download the Alpine minirootfs tarball (${(bytes / 1024).toFixed(0)} KiB, built by \`scripts/make-mirror.ts\`) ` +
      `from a static mirror on 127.0.0.1 and unpack it into an empty directory on ${fs}.`,
    "",
    "| command | mean ms | ± ms | min ms | max ms | vs curl\\|tar |",
    "|---|--:|--:|--:|--:|--:|",
    ...rows.map(
      (r) => `| ${cell(r.name)} | ${ms(r.mean)} | ${ms(r.stddev)} | ${ms(r.min)} | ${ms(r.max)} | ${ms(r.mean / curl.mean)}x |`,
    ),
    "",
    "cbox does more than the pipe: it first fetches the small `.sha256` file, then verifies the tarball's " +
      "sha256 as it unpacks and records the image in its store.",
    "",
    `${machineLine(RUNS)} · commands run in hyperfine's default shell (\`sh\`, whose startup hyperfine subtracts); ` +
      "the mirror is served by `Bun.serve` from the benchmark's own process.",
    "",
    `Goal: cbox within ${GOAL}x of curl | tar -xz. Goal ${ratio <= GOAL ? "met" : "NOT met"}: cbox is ${ms(ratio)}x.`,
    "",
    "Commands (`bun scripts/bench-pull.ts`), each after its prepare command:",
    "",
    ...peers.map((p) => `- ${p.name}: \`${p.shown}\` (prepare: \`${p.prepareShown}\`)`),
  ].join("\n");
}

async function main() {
  if (!Bun.which("hyperfine") || !Bun.which("curl")) throw new Error("needs hyperfine and curl: apt-get install -y hyperfine curl");
  const cbox = buildCbox();
  const tmp = mkdtempSync(join(tmpdir(), "cbox-bench-pull-"));
  let server: ReturnType<typeof serve> | undefined;
  try {
    // make-mirror prints "PATH BYTES bytes" for the tarball it wrote.
    const mirror = join(tmp, "mirror");
    const [tarball, size] = run([process.execPath, "scripts/make-mirror.ts", mirror], { quiet: true }).trim().split(" ");
    server = serve(mirror);
    const base = `http://127.0.0.1:${server.port}`;
    const url = `${base}/${relative(mirror, tarball!)}`;
    const [dir, store] = [join(tmp, "unpacked"), join(tmp, "store")];

    const peers: Peer[] = [
      {
        name: `curl ${version(["curl", "--version"])} | tar ${version(["tar", "--version"])}`,
        cmd: `${line(["curl", "-s", url])} | ${line(["tar", "-xz", "-C", dir])}`,
        prepare: `rm -rf ${line([dir])} && mkdir ${line([dir])}`,
        shown: `curl -s URL/${basename(tarball!)} | tar -xz -C DIR`,
        prepareShown: "rm -rf DIR && mkdir DIR",
      },
      {
        name: "cbox",
        cmd: line([cbox, "pull", "-q", "--root", store, "--mirror", `${base}/alpine`, REF]),
        prepare: `rm -rf ${line([store])}`,
        shown: `dist/cbox pull -q --root STORE --mirror URL/alpine ${REF}`,
        prepareShown: "rm -rf STORE",
      },
    ];

    const fs = run(["df", "--output=fstype", tmp], { quiet: true }).trim().split("\n").pop()!;
    const body = report(await hyperfine(peers, { runs: RUNS, tmp, shell: true }), peers, Number(size), `${fs} (${tmpdir()})`);
    await writeSection("bench-pull", body);
    console.log(`\n${body}\n\nwrote ${OUT}`);
  } finally {
    server?.stop(true);
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main().catch((e) => {
  console.error(`bench-pull: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
