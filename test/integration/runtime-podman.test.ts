// Podman (Debian's 4.3, through conmon) with cbox-runtime as its OCI runtime: run --rm, a
// detached container with exec, logs and stop, and -it through conmon's console socket.
// Podman runs as root with its storage (vfs) in a temp folder, and rlimits under this machine's
// hard limits (no runtime can raise them without CAP_SYS_RESOURCE, which this machine lacks).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { asUser, cboxBin, cgroupMounts, isRoot, removeDir, rootfsTar, rootlessUserFixture, tempDir } from "./helpers.ts";

const IMAGE = "localhost/cbox-busybox:test";
const LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];
let work = "";
let runtime = "";
/** conmon's cgroups (PARENT/conmon, empty once it is gone) that podman makes and leaves. */
let podmanCgroups: string[] = [];

beforeAll(() => {
  if (!isRoot) return;
  podmanCgroups = cgroupMounts().map((m) => join(m, "libpod_parent")).filter((d) => !existsSync(d));
  work = tempDir();
  runtime = join(work, "cbox-runtime");
  symlinkSync(cboxBin, runtime);
  const imported = Bun.spawnSync(["podman", ...storage(), "import", rootfsTar(work), IMAGE], { stdout: "pipe", stderr: "pipe" });
  if (imported.exitCode !== 0) throw new Error(`podman import: ${imported.stderr}`);
}, 60_000);

afterAll(() => {
  if (!work) return;
  podmanSync(["rm", "--all", "--force"]);
  for (const dir of podmanCgroups) for (const d of [join(dir, "conmon"), dir]) if (existsSync(d)) rmdirSync(d);
  removeDir(work);
});

function storage(): string[] {
  return ["--root", join(work, "root"), "--runroot", join(work, "run"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", runtime];
}

function podmanSync(args: string[]): { code: number; stdout: string; stderr: string } {
  const res = Bun.spawnSync(["podman", ...storage(), ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: res.exitCode ?? -1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

describe.skipIf(!isRoot)("podman with --runtime cbox-runtime", () => {
  test("run --rm: the command's output and exit code, in namespaces of its own", () => {
    const res = podmanSync(["run", "--rm", "--network", "none", ...LIMITS, "--hostname", "boxed", IMAGE, "sh", "-c", "hostname; echo pid $$; exit 3"]);
    expect(res).toMatchObject({ code: 3, stdout: "boxed\npid 1\n" });
  });

  test("run -d, exec, logs, stop and rm", () => {
    const started = podmanSync(["run", "-d", "--name", "web", "--network", "none", ...LIMITS, IMAGE, "sh", "-c", 'echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done']);
    expect(started.code).toBe(0);
    expect(podmanSync(["inspect", "--format", "{{.OCIRuntime}}", "web"]).stdout.trim()).toBe(runtime);
    expect(podmanSync(["exec", "web", "sh", "-c", "echo exec here; cat /proc/1/cmdline | tr '\\0' ' '"])).toMatchObject({ code: 0, stdout: 'exec here\nsh -c echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done ' });
    expect(podmanSync(["exec", "--user", "1000", "web", "id", "-u"]).stdout).toBe("1000\n");
    expect(podmanSync(["exec", "web", "sh", "-c", "exit 4"]).code).toBe(4);
    expect(podmanSync(["stop", "-t", "5", "web"]).code).toBe(0);
    expect(podmanSync(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]).stdout).toMatch(/^web Exited \(0\)/);
    expect(podmanSync(["logs", "web"]).stdout).toBe("started\nbye\n");
    expect(podmanSync(["rm", "web"]).code).toBe(0);
  });

  test("-it: a terminal through conmon's console socket", () => {
    // script(1) gives podman a terminal; what is typed goes to the container's shell.
    const cmd = [...["podman", ...storage()], "run", "-it", "--rm", "--network", "none", ...LIMITS, IMAGE, "sh"].join(" ");
    const res = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { stdin: Buffer.from("tty; exit 3\n"), stdout: "pipe", stderr: "pipe" });
    const out = res.stdout.toString().replaceAll("\r", "");
    expect(out).toContain("\n/dev/pts/0\n");
    expect(res.exitCode).toBe(3);
  });
});

// Rootless podman runs its runtime inside the user's user namespace, as its root: cbox-runtime
// then keeps its state under XDG_RUNTIME_DIR, makes no cgroup when it may not (no limits asked),
// binds the host's device nodes and the host's /sys/fs/cgroup.
const user = rootlessUserFixture("cbox-podman-user", 1_700_000);

describe.skipIf(!isRoot)("rootless podman with --runtime cbox-runtime", () => {
  const podmanAsUser = (args: string[]) => {
    const runtime = join(user.work, "cbox-runtime"); // where the user can reach it
    if (!existsSync(runtime)) symlinkSync(cboxBin, runtime);
    const storage = ["--root", join(user.work, "user/podman-root"), "--runroot", join(user.work, "user/podman-run"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", runtime];
    const res = Bun.spawnSync([...asUser(user.as), "env", "-i", `HOME=${user.as.home}`, "PATH=/usr/bin:/bin", "podman", ...storage, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    return { code: res.exitCode ?? -1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
  };

  test("run --rm and run -d with exec, as an ordinary user", () => {
    const tar = join(user.work, "user/rootfs.tar");
    expect(Bun.spawnSync([...asUser(user.as), "tar", "-C", user.rootfs, "-cf", tar, "."]).exitCode).toBe(0);
    expect(podmanAsUser(["import", tar, IMAGE])).toMatchObject({ code: 0 });
    const once = podmanAsUser(["run", "--rm", "--network", "none", ...LIMITS, IMAGE, "sh", "-c", "id -u; ls /dev/null"]);
    expect(once).toMatchObject({ code: 0, stdout: "0\n/dev/null\n" });
    expect(podmanAsUser(["run", "-d", "--name", "bg", "--network", "none", ...LIMITS, IMAGE, "sleep", "60"]).code).toBe(0);
    expect(podmanAsUser(["exec", "bg", "cat", "/proc/1/cmdline"]).stdout).toBe("sleep\x0060\x00");
    expect(podmanAsUser(["rm", "--force", "bg"]).code).toBe(0);
    podmanAsUser(["system", "reset", "--force"]); // the user's pause process and storage
  });
});
