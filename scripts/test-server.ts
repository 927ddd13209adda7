// The server test: boots a fresh Debian 12 server (systemd, pure cgroup v2, Debian's 6.1 kernel,
// no libc6-dev) in qemu, installs cbox in it through install.sh from a release served on this
// host, and runs test/server/guest/ there as root and as ordinary users. Exits 0 only when every
// guest check passed and the guest reported its end.
//
//   sudo bun scripts/test-server.ts [--arch x64|arm64] [--release DIR] [--timeout SECONDS]
//
// --arch arm64 boots a Debian 12 arm64 server (qemu's virt machine, emulated) that installs
// cbox-linux-arm64 and runs the same checks. The image is built from Debian's packages (debootstrap:
// a few minutes for x64, emulated for arm64 about 20) and cached in CBOX_VM_CACHE (default
// /var/cache/cbox-test-server); each run boots a throw-away overlay of it.
// Without --release, dist/release/ is used, rebuilt first (npm run release) when stale.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ALPINE, alpineMirror } from "./test-server/alpine.ts";
import { ARCH_INFO, ARCHES, type Arch } from "./test-server/arch.ts";
import { packGuest } from "./test-server/guest.ts";
import { addSbinToPath, checkHost } from "./test-server/host.ts";
import { defaultCacheDir, ensureImage, removeTree, type Image, type ImageTimes } from "./test-server/image.ts";
import { ensureRelease, type Release } from "./test-server/release.ts";
import { startServer, type Server, type Served } from "./test-server/serve.ts";
import { InterruptedError, lastLines, StepError } from "./test-server/shell.ts";
import { newResults, record, verdict, type Results } from "./test-server/tap.ts";
import { boot, type BootResult } from "./test-server/vm.ts";

const USAGE = "usage: bun scripts/test-server.ts [--arch x64|arm64] [--release DIR] [--timeout SECONDS]";

interface Options { arch: Arch; release?: string; timeoutMs: number }
class UsageError extends StepError {}

function parseArgs(argv: string[]): Options {
  let arch: Arch = "x64";
  let release: string | undefined;
  let timeoutMs: number | undefined;
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    if (flag !== "--arch" && flag !== "--release" && flag !== "--timeout") throw new UsageError(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`);
    if (!value) throw new UsageError(`${flag} needs a value\n${USAGE}`);
    if (flag === "--release") release = value;
    else if (flag === "--arch") {
      if (!(ARCHES as string[]).includes(value)) throw new UsageError(`--arch ${value}: give x64 or arm64\n${USAGE}`);
      arch = value as Arch;
    } else if (/^[1-9]\d*$/.test(value)) timeoutMs = Number(value) * 1000;
    else throw new UsageError(`--timeout ${value}: give a whole number of seconds\n${USAGE}`);
  }
  return { arch, release, timeoutMs: timeoutMs ?? ARCH_INFO[arch].defaultTimeoutS * 1000 };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  addSbinToPath();
  checkHost(options.arch);
  const start = performance.now();
  // Ctrl-C stops the image's build or the guest, and what the run made is removed on the way out.
  const stopping = new AbortController();
  process.on("SIGINT", () => stopping.abort());
  process.on("SIGTERM", () => stopping.abort());
  const image = await cachedImage(options.arch, stopping.signal);
  if (stopping.signal.aborted) return 130;
  const release = await ensureRelease(options.release, options.arch);
  console.log(`release: ${release.version} from ${release.dir}, installing cbox-linux-${options.arch}`);

  const work = mkdtempSync(join(process.env.TMPDIR || tmpdir(), "cbox-test-server-"));
  let server: Server | undefined;
  try {
    const served: Served = { releaseDir: release.dir, mirror: new Map(), guestTar: join(work, "guest.tar") };
    server = await startServer(served);
    const url = `http://10.0.2.2:${server.port}`;
    served.mirror = await alpineMirror(work, options.arch, defaultCacheDir());
    await packGuest(work, { url, port: server.port, cboxVersion: release.version, alpineVersion: ALPINE.version });

    console.log(`boot: ${options.arch} guest in qemu (TCG); the guest reaches this host's 127.0.0.1:${server.port} as ${url}`);
    const results = newResults();
    const booted = performance.now();
    const sinceBoot = () => performance.now() - booted;
    const vm = await boot({
      arch: options.arch,
      image,
      workDir: work,
      url,
      timeoutMs: options.timeoutMs,
      signal: stopping.signal,
      finished: () => results.done !== undefined || results.bailOut !== undefined,
      onLine(line) {
        record(results, line, sinceBoot());
        console.log(`[${(sinceBoot() / 1000).toFixed(0).padStart(4)} s] ${line}`);
      },
    });
    const failure = report(results, vm, server, options, { guestMs: sinceBoot(), wholeMs: performance.now() - start });
    if (stopping.signal.aborted) return 130;
    return failure ? 1 : 0;
  } finally {
    server?.stop();
    removeTree(work);
  }
}

async function cachedImage(arch: Arch, signal: AbortSignal): Promise<Image> {
  const cacheDir = defaultCacheDir();
  const times: ImageTimes = {};
  const image = await ensureImage(cacheDir, arch, times, signal);
  const how =
    times.debootstrap !== undefined ? `built: debootstrap ${times.debootstrap} s, disk ${times.disk} s`
    : times.disk !== undefined ? `built from the cached debootstrap root in ${times.disk} s`
    : "cached";
  console.log(`image: ${ARCH_INFO[arch].debian} ${how} (${cacheDir})`);
  return image;
}

/** Prints the outcome (and on failure what helps to see why); returns the failure, if any. */
function report(results: Results, vm: BootResult, server: Server, options: Options, took: { guestMs: number; wholeMs: number }): string | undefined {
  const stopped = {
    "powered off": undefined,
    "timed out": `the guest was stopped at the ${seconds(options.timeoutMs)} limit (--timeout)`,
    interrupted: "the guest was stopped (interrupted)",
    "did not power off": "the guest did not power off after its last result",
  }[vm.ending];
  const failure = stopped ? `${stopped}; ${verdict(results) ?? "all checks had passed"}` : verdict(results);
  if (failure) {
    console.log(`\nthe guest's console (${vm.consoleLog}), last lines:\n${lastLines(readFileSync(vm.consoleLog, "utf8"), 40)}`);
    console.log(`\nthe last requests the host answered:\n${server.requests.slice(-20).join("\n")}`);
  }
  const first = results.firstResultMs === undefined ? "never" : `${seconds(results.firstResultMs)} after boot`;
  console.log(`\nserver test: ${failure ? `FAILED: ${failure}` : "every guest check passed"}; first result ${first}, guest ${seconds(took.guestMs)}, whole run ${seconds(took.wholeMs)}`);
  console.log(`server: ${results.passed.length} passed, ${results.failed.length} failed`);
  return failure;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`test-server: ${err instanceof StepError ? err.message : (err as Error).stack}`);
    process.exit(err instanceof UsageError ? 125 : err instanceof InterruptedError ? 130 : 1);
  },
);
