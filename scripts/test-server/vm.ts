// Boots the server image in qemu (TCG: no KVM here) on a throw-away copy-on-write overlay, and
// follows the guest's results port, where the test writes its results, line by line: the second
// serial port on x86_64; on arm64's virt machine, which has one UART, a virtio console.
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import type { Arch } from "./arch.ts";
import type { Image } from "./image.ts";
import { run } from "./shell.ts";

export interface BootOptions {
  arch: Arch;
  image: Image;
  workDir: string; // the run's temp folder: the overlay, the console's and the results' logs go there
  url: string; // what the guest's test unit downloads from: http://10.0.2.2:PORT
  timeoutMs: number;
  signal: AbortSignal; // Ctrl-C: stop the guest
  onLine: (line: string) => void; // each line of the results port, as it comes
  /** True once the guest reported its end: it then has a short while to power off by itself. */
  finished: () => boolean;
}
export interface BootResult {
  ending: "powered off" | "timed out" | "interrupted" | "did not power off";
  qemuExit: number | null;
  consoleLog: string;
}

const POLL_MS = 250;
const POWER_OFF_GRACE_MS = 60_000;

export async function boot(o: BootOptions): Promise<BootResult> {
  const overlay = join(o.workDir, "run.qcow2");
  const consoleLog = join(o.workDir, "console.log");
  const resultsLog = join(o.workDir, "results.log");
  await run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", o.image.disk, "-F", "raw", overlay]);
  const qemu = Bun.spawn(qemuCommand(o, { overlay, consoleLog, resultsLog }), { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderr = new Response(qemu.stderr).text();

  const follower = followLines(resultsLog, o.onLine);
  const started = Date.now();
  let finishedAt: number | undefined;
  let ending: BootResult["ending"] | undefined;
  while (qemu.exitCode === null && qemu.signalCode === null) {
    await Promise.race([qemu.exited, Bun.sleep(POLL_MS)]);
    follower.poll();
    if (o.finished()) finishedAt ??= Date.now();
    if (o.signal.aborted) ending = "interrupted";
    else if (finishedAt !== undefined && Date.now() - finishedAt > POWER_OFF_GRACE_MS) ending = "did not power off";
    else if (Date.now() - started > o.timeoutMs) ending = "timed out";
    if (ending) {
      await stop(qemu);
      break;
    }
  }
  await qemu.exited;
  follower.poll();
  follower.close();
  const said = (await stderr).trim();
  if (said) console.error(`qemu: ${said}`);
  return { ending: ending ?? "powered off", qemuExit: qemu.exitCode, consoleLog };
}

function qemuCommand(o: BootOptions, files: { overlay: string; consoleLog: string; resultsLog: string }): string[] {
  const machine = {
    x64: {
      qemu: "qemu-system-x86_64",
      machine: "accel=tcg",
      cpu: "max", // Bun needs more than qemu64 (DESIGN.md fact 13)
      console: "ttyS0",
      results: { device: "/dev/ttyS1", args: ["-serial", `file:${files.resultsLog}`] },
    },
    arm64: {
      qemu: "qemu-system-aarch64",
      machine: "virt,accel=tcg",
      // Neoverse-N1, the core of Graviton2 and Ampere Altra servers. Not "max": under qemu 7.2's
      // TCG, with max's later features (SVE among them), Bun's arm64 runtime aborted, segfaulted
      // or unpacked a corrupt stream in about 1 of 15 `cbox pull`s; on N1 none in 72.
      cpu: "neoverse-n1",
      console: "ttyAMA0",
      results: {
        device: "/dev/hvc0",
        args: ["-device", "virtio-serial-pci", "-chardev", `file,id=results,path=${files.resultsLog}`, "-device", "virtconsole,chardev=results"],
      },
    },
  }[o.arch];
  return [
    machine.qemu,
    "-machine", machine.machine,
    "-cpu", machine.cpu,
    "-m", "3072",
    "-smp", "2",
    "-display", "none",
    "-no-reboot",
    "-serial", `file:${files.consoleLog}`,
    ...machine.results.args,
    "-nic", "user,model=virtio-net-pci",
    "-drive", `file=${files.overlay},format=qcow2,if=virtio`,
    "-kernel", o.image.kernel,
    "-initrd", o.image.initrd,
    "-append", `root=/dev/vda rw console=${machine.console} panic=-1 quiet cbox_test_url=${o.url} cbox_test_results=${machine.results.device}`,
  ];
}

/** SIGTERM to qemu (by its pid), SIGKILL if it is still there 5 s later. */
async function stop(qemu: Bun.Subprocess): Promise<void> {
  qemu.kill("SIGTERM");
  const gone = await Promise.race([qemu.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
  if (!gone) qemu.kill("SIGKILL");
}

/** Reads what was appended to file since the last poll and hands on the complete lines. */
function followLines(file: string, onLine: (line: string) => void) {
  let fd: number | undefined;
  let offset = 0;
  let pending = "";
  const buffer = Buffer.alloc(64 * 1024);
  const decoder = new TextDecoder();
  return {
    poll() {
      if (fd === undefined) {
        if (!existsSync(file)) return;
        fd = openSync(file, "r");
      }
      for (let n; (n = readSync(fd, buffer, 0, buffer.length, offset)) > 0; offset += n) {
        pending += decoder.decode(buffer.subarray(0, n), { stream: true });
      }
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) onLine(line.replace(/\r$/, ""));
    },
    close() {
      if (pending) onLine(pending.replace(/\r$/, ""));
      if (fd !== undefined) closeSync(fd);
    },
  };
}
