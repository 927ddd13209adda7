// The test command (npm test): builds the release (dist/release, which the
// installer's tests and the test server install from), runs every test with bun test, then (when
// no test files are named) the test server for x64 and for arm64: a Debian 12 server in qemu
// (scripts/test-server.ts). Ends with one plain summary line
// ("tests: N passed, N failed, N skipped; server x64: ...; server arm64: ...").
import { $ } from "bun";
import { copyFileSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostCpuArch } from "../src/sys/abi.ts";
import { foreignBusybox } from "./test-server/alpine.ts";
import { defaultCacheDir } from "./test-server/image.ts";

// dist/cbox, which the tests run, is the release's executable for this machine: built once.
await $`bun scripts/release.ts`;
// Through a rename: a cbox still running from an earlier copy (a detached container's monitor)
// keeps its file, and the copy cannot fail with ETXTBSY.
copyFileSync(`dist/release/cbox-linux-${hostCpuArch()}`, "dist/cbox.tmp");
renameSync("dist/cbox.tmp", "dist/cbox");

// The arm64 tests' minirootfs needs busybox-static:arm64 (test/integration/arm64-user.test.ts).
// It is downloaded once into the test server's cache, here: the tests themselves have no network.
if (process.getuid!() === 0) {
  const download = mkdtempSync(join(tmpdir(), "cbox-busybox-"));
  try {
    process.env.CBOX_TEST_ARM64_BUSYBOX = await foreignBusybox("arm64", download, defaultCacheDir());
  } finally {
    rmSync(download, { recursive: true, force: true });
  }
}

const files = process.argv.slice(2);
const bunTest = ["bun", "test", "--timeout", "120000", ...(files.length ? files : ["test/"])];
// As root, the tests run in a network namespace of their own, loopback up: containers on the
// default bridge network put cbox0 and cbox's firewall table there, never on the host's.
// CBOX_TEST_NETNS tells the tests which namespace that is (test/integration/helpers.ts).
const inPrivateNetwork =
  process.getuid!() === 0 ? ["unshare", "--net", "sh", "-c", 'ip link set lo up && CBOX_TEST_NETNS=$(stat -L -c %i /proc/self/ns/net) exec "$@"', "sh"] : [];

/** Runs cmd with its output shown as it comes; resolves to its exit code and the end of its output. */
async function runShown(cmd: string[], stream: "stdout" | "stderr"): Promise<{ code: number; tail: string }> {
  const proc = Bun.spawn(cmd, { env: process.env, stdout: stream === "stdout" ? "pipe" : "inherit", stderr: stream === "stderr" ? "pipe" : "inherit" });
  let tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc[stream] as ReadableStream<Uint8Array>) {
    const text = decoder.decode(chunk);
    (stream === "stdout" ? process.stdout : process.stderr).write(text);
    tail = (tail + text).slice(-4096);
  }
  return { code: await proc.exited, tail };
}

const tests = await runShown([...inPrivateNetwork, ...bunTest], "stderr");
const count = (word: string) => Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(tests.tail)?.[1] ?? 0);
let line = `tests: ${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped`;
let code = tests.code;

// The server test, once per release executable: an x86_64 and an emulated arm64 Debian 12 server.
// It needs the host's own network (debootstrap fetches Debian's packages) and root.
if (!files.length) {
  for (const arch of ["x64", "arm64"]) {
    if (process.getuid!() !== 0) {
      line += `; server ${arch}: skipped (the test server needs root: it builds a disk image and boots it)`;
      continue;
    }
    const server = await runShown(["bun", "scripts/test-server.ts", "--arch", arch, "--release", "dist/release"], "stdout");
    const said = /^server: (.*)$/m.exec(server.tail)?.[1] ?? `failed before the guest reported (exit ${server.code})`;
    line += `; server ${arch}: ${said}`;
    code ||= server.code;
  }
}
console.log(line);
process.exit(code);
