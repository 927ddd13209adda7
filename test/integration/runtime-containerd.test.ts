// containerd (Debian's 1.6) with cbox-runtime as the runc binary of its runc v2 shim: the path a
// Kubernetes node takes (CRI -> containerd -> shim -> runtime binary). A containerd of the
// test's own (socket, root and state in a temp folder, the CRI plugin off) runs an image made
// with cbox import and cbox save and imported with ctr.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cboxBin, cgroupMounts, isRoot, removeDir, rootfsImageArchive, tempDir } from "./helpers.ts";

const IMAGE = "localhost/cbox-busybox:test";
let work = "";
let runtime = "";
let daemon: ReturnType<typeof Bun.spawn> | undefined;

beforeAll(async () => {
  if (!isRoot) return;
  work = tempDir();
  runtime = join(work, "cbox-runtime");
  symlinkSync(cboxBin, runtime);
  writeFileSync(
    join(work, "config.toml"),
    [
      "version = 2",
      `root = "${work}/root"`,
      `state = "${work}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${work}/containerd.sock"`,
      "[ttrpc]",
      `  address = "${work}/containerd.sock.ttrpc"`,
    ].join("\n"),
  );
  daemon = Bun.spawn(["containerd", "--config", join(work, "config.toml")], { stdout: "ignore", stderr: Bun.file(join(work, "containerd.log")) });
  for (let i = 0; i < 500 && !existsSync(join(work, "containerd.sock")); i++) await Bun.sleep(10);
  const imported = ctr(["images", "import", "--snapshotter", "native", rootfsImageArchive(work, IMAGE)]);
  if (imported.code !== 0) throw new Error(`ctr images import: ${imported.stderr}`);
}, 60_000);

afterAll(async () => {
  if (!work) return;
  for (const id of ctr(["tasks", "ls", "-q"]).stdout.split("\n").filter(Boolean)) ctr(["tasks", "delete", "--force", id]);
  for (const id of ctr(["containers", "ls", "-q"]).stdout.split("\n").filter(Boolean)) ctr(["containers", "delete", id]);
  daemon?.kill("SIGTERM");
  await daemon?.exited;
  // containerd's cgroup parent for the namespace (the runtime removed each container's own)
  for (const m of cgroupMounts()) if (existsSync(join(m, "cbox-test"))) rmdirSync(join(m, "cbox-test"));
  removeDir(work);
});

function ctr(args: string[], stdin?: string): { code: number; stdout: string; stderr: string } {
  const res = Bun.spawnSync(["ctr", "--address", join(work, "containerd.sock"), "--namespace", "cbox-test", ...args], { stdin: stdin ? Buffer.from(stdin) : "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: res.exitCode ?? -1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

/** ctr run's flags for cbox-runtime, its state kept in the test's folder. */
const onCbox = () => ["--runc-binary", runtime, "--runc-root", join(work, "runc"), "--snapshotter", "native"];

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await Bun.sleep(20);
  }
}

describe.skipIf(!isRoot)("containerd's runc v2 shim with cbox-runtime", () => {
  test("ctr run --rm: the command's output and exit code", () => {
    const res = ctr(["run", "--rm", ...onCbox(), IMAGE, "once", "sh", "-c", "echo hello from containerd; echo pid $$; exit 5"]);
    expect(res).toMatchObject({ code: 5, stdout: "hello from containerd\npid 1\n" });
    expect(ctr(["containers", "ls", "-q"]).stdout).toBe("");
  });

  test("ctr run -d, task exec, kill, delete", async () => {
    expect(ctr(["run", "-d", ...onCbox(), IMAGE, "served", "sh", "-c", 'trap "exit 0" TERM; while :; do sleep 0.1; done']).code).toBe(0);
    expect(ctr(["tasks", "ls"]).stdout).toMatch(/^served +\d+ +RUNNING$/m);
    // the runtime's own view: its state under --runc-root, the process the shim's
    expect(existsSync(join(work, "runc/cbox-test/served/state.json"))).toBe(true);
    const exec = ctr(["tasks", "exec", "--exec-id", "probe", "served", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 6"]);
    expect(exec).toMatchObject({ code: 6, stdout: 'sh -c trap "exit 0" TERM; while :; do sleep 0.1; done ' });
    expect(ctr(["tasks", "kill", "served"]).code).toBe(0);
    await waitFor(() => /^served +\d+ +STOPPED$/m.test(ctr(["tasks", "ls"]).stdout));
    expect(ctr(["tasks", "delete", "served"]).code).toBe(0);
    expect(ctr(["containers", "delete", "served"]).code).toBe(0);
    expect(existsSync(join(work, "runc/cbox-test/served"))).toBe(false);
    expect(cgroupMounts().filter((m) => existsSync(join(m, "cbox-test/served")))).toEqual([]);
  });

  test("ctr run -t: a terminal through the shim's console socket", () => {
    const cmd = ["ctr", "--address", join(work, "containerd.sock"), "--namespace", "cbox-test", "run", "--rm", "-t", ...onCbox(), IMAGE, "term", "sh"].join(" ");
    const res = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { stdin: Buffer.from("tty; exit 4\n"), stdout: "pipe", stderr: "pipe" });
    expect(res.stdout.toString().replaceAll("\r", "")).toContain("\n/dev/pts/0\n");
    expect(res.exitCode).toBe(4);
  });
});
