// dockerd (Debian's docker.io 20.10) with cbox-runtime added as a runtime (`--add-runtime`'s
// daemon.json form): docker run --runtime cbox, detached with exec, logs and stop, and -it. The
// daemon is the test's own: its socket, data and exec roots in a temp folder, no iptables, no
// bridge, vfs storage (no mounts left behind).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cboxBin, cgroupMounts, isRoot, removeDir, rootfsImageArchive, tempDir } from "./helpers.ts";

const DOCKER = "/usr/bin/docker";
const IMAGE = "localhost/cbox-busybox:test";
let work = "";
let daemon: ReturnType<typeof Bun.spawn> | undefined;

beforeAll(async () => {
  if (!isRoot) return;
  work = tempDir();
  const runtime = join(work, "cbox-runtime");
  symlinkSync(cboxBin, runtime);
  writeFileSync(join(work, "daemon.json"), JSON.stringify({ runtimes: { cbox: { path: runtime } } }));
  daemon = Bun.spawn(
    ["dockerd", "--data-root", join(work, "data"), "--exec-root", join(work, "exec"), "--pidfile", join(work, "docker.pid"), "--host", `unix://${join(work, "docker.sock")}`, "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver", "vfs", "--config-file", join(work, "daemon.json")],
    { stdout: "ignore", stderr: Bun.file(join(work, "dockerd.log")) },
  );
  for (let i = 0; i < 300 && docker(["version"]).code !== 0; i++) await Bun.sleep(50);
  const loaded = docker(["load", "-i", rootfsImageArchive(work, IMAGE)]);
  if (loaded.code !== 0) throw new Error(`docker load: ${loaded.stderr}`);
}, 60_000);

afterAll(async () => {
  if (!work) return;
  const left = docker(["ps", "-aq"]).stdout.split("\n").filter(Boolean);
  if (left.length) docker(["rm", "--force", ...left]);
  daemon?.kill("SIGTERM");
  await daemon?.exited;
  // dockerd's cgroup parent (the runtime removed each container's own)
  for (const m of cgroupMounts()) if (existsSync(join(m, "docker"))) rmdirSync(join(m, "docker"));
  removeDir(work);
}, 30_000);

function docker(args: string[]): { code: number; stdout: string; stderr: string } {
  const res = Bun.spawnSync([DOCKER, "--host", `unix://${join(work, "docker.sock")}`, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: res.exitCode ?? -1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

describe.skipIf(!isRoot)("dockerd with cbox-runtime as a runtime", () => {
  test("docker run --runtime cbox --rm: the command's output and exit code", () => {
    const res = docker(["run", "--rm", "--runtime", "cbox", "--network", "none", "--hostname", "boxed", IMAGE, "sh", "-c", "hostname; echo pid $$; exit 3"]);
    expect(res).toMatchObject({ code: 3, stdout: "boxed\npid 1\n" });
  });

  test("run -d, exec, logs, stop and rm", () => {
    const started = docker(["run", "-d", "--runtime", "cbox", "--network", "none", "--name", "web", IMAGE, "sh", "-c", 'echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done']);
    expect(started.code).toBe(0);
    expect(docker(["inspect", "--format", "{{.HostConfig.Runtime}}", "web"]).stdout).toBe("cbox\n");
    expect(docker(["exec", "web", "sh", "-c", "echo exec here; cat /proc/1/cmdline | tr '\\0' ' '"])).toMatchObject({ code: 0, stdout: 'exec here\nsh -c echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done ' });
    expect(docker(["exec", "--user", "1000", "web", "id", "-u"]).stdout).toBe("1000\n");
    expect(docker(["stop", "--time", "5", "web"]).code).toBe(0);
    expect(docker(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]).stdout).toMatch(/^web Exited \(0\)/);
    expect(docker(["logs", "web"]).stdout).toBe("started\nbye\n");
    expect(docker(["rm", "web"]).code).toBe(0);
  });

  test("-it: a terminal through containerd's shim", () => {
    const cmd = [DOCKER, "--host", `unix://${join(work, "docker.sock")}`, "run", "-it", "--rm", "--runtime", "cbox", "--network", "none", IMAGE, "sh"].join(" ");
    const res = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { stdin: Buffer.from("tty; exit 4\n"), stdout: "pipe", stderr: "pipe" });
    expect(res.stdout.toString().replaceAll("\r", "")).toContain("\n/dev/pts/0\n");
    expect(res.exitCode).toBe(4);
  });
});
