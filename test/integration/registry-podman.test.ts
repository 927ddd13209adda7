// The same registry images run by podman (Debian's, with crun) and by cbox give the same output:
// entrypoint and cmd, env, working folder, user, the whiteout, the opaque folder, the hard link.
// Podman runs as root in a private mount namespace of its own (with the empty cgroup2 stub of a
// hybrid host unmounted: crun refuses hybrid cgroups), its storage (vfs) in a temp folder, with
// rlimits under this machine's hard limits (crun cannot raise them without CAP_SYS_RESOURCE).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { pushImage, removeImageLayout, type PushedImage } from "../fixtures/oci-images.ts";
import { startRegistry, type Registry } from "../fixtures/registry.ts";
import { existsSync, rmdirSync } from "node:fs";
import { cboxAsync, cgroupMounts, isRoot, removeDir, tempDir } from "./helpers.ts";

const CGROUP2_STUB = "/sys/fs/cgroup/unified";
let work: string;
let reg: Registry;
let layered: PushedImage;
let config: PushedImage;
/** conmon's cgroups (PARENT/conmon, empty once it is gone) that podman made here and leaves. */
let podmanCgroups: string[] = [];

beforeAll(async () => {
  if (!isRoot) return;
  podmanCgroups = cgroupMounts().map((m) => join(m, "libpod_parent")).filter((d) => !existsSync(d));
  work = tempDir();
  reg = await startRegistry();
  layered = await pushImage(reg, "layered");
  config = await pushImage(reg, "config");
}, 120_000);
afterAll(async () => {
  for (const dir of podmanCgroups) for (const d of [join(dir, "conmon"), dir]) if (existsSync(d)) rmdirSync(d);
  await reg?.stop();
  await removeImageLayout();
  if (work) removeDir(work);
});

async function podman(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const storage = ["--root", join(work, "podman/root"), "--runroot", join(work, "podman/run"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"];
  const script = `umount ${CGROUP2_STUB} 2>/dev/null; exec podman "$@"`;
  const p = Bun.spawn(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", ...storage, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Runs the image under both, the same arguments after the image's name; both must succeed. */
async function both(image: PushedImage, runFlags: string[], command: string[]): Promise<{ podman: string; cbox: string }> {
  const p = await podman(["run", "--rm", "--network", "none", "--tls-verify=false", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", ...runFlags, image.ref, ...command]);
  expect({ code: p.code, stderr: p.stderr.split("\n").filter((l) => /^Error/.test(l)).join("\n") }).toEqual({ code: 0, stderr: "" });
  const c = await cboxAsync(["run", "--rm", "--network", "none", ...runFlags, image.ref, ...command], { env: { CBOX_ROOT: join(work, "cbox") } });
  expect({ code: c.code, stderr: c.stderr.split("\n").filter((l) => l.startsWith("cbox:")).join("\n") }).toEqual({ code: 0, stderr: "" });
  return { podman: p.stdout, cbox: c.stdout };
}

const LOOK = [
  "ls -a /data /opq /hard",
  "cat /data/keep /data/owned /opq/new /hard/a",
  "stat -c '%n %a %u:%g %h' /data/owned /hard/a /hard/b /opq",
  '[ "$(stat -c %i /hard/a)" = "$(stat -c %i /hard/b)" ] && echo "one inode"',
  "readlink /link-src",
].join("; ");

describe.skipIf(!isRoot)("cbox and podman run the same registry images alike", () => {
  test("layers: the whiteout, the opaque folder, the hard link, owners and modes", async () => {
    const out = await both(layered, [], ["sh", "-c", LOOK]);
    expect(out.cbox).toBe(out.podman);
    expect(out.cbox).toContain("one inode");
    expect(out.cbox).not.toContain("gone");
  }, 120_000);

  test("config: Entrypoint with Cmd, with arguments, and --entrypoint", async () => {
    const plain = await both(config, [], []);
    expect(plain.cbox).toBe(plain.podman);
    expect(plain.cbox).toBe("entry cmd-arg\n");
    const args = await both(config, [], ["a", "b"]);
    expect(args.cbox).toBe(args.podman);
    // Numeric ids: podman adds a passwd line for a uid the image lacks, docker and cbox do not.
    const shell = await both(config, ["--entrypoint", "sh"], ["-c", 'id -u; id -g; id -G; pwd; echo "FOO=$FOO PATH=$PATH"; ls -ld /work']);
    expect(shell.cbox).toBe(shell.podman);
    expect(shell.cbox).toStartWith("1000\n1000\n1000\n/work\nFOO=bar PATH=");
    // HOME for a uid without a passwd line: podman gives the working folder; cbox does as docker, "/".
    const home = await both(config, ["--entrypoint", "sh"], ["-c", 'echo "$HOME"']);
    expect([home.podman, home.cbox]).toEqual(["/work\n", "/\n"]);
  }, 120_000);

  test("-u and -w over the image's User and WorkingDir", async () => {
    const out = await both(config, ["-u", "0:0", "-w", "/tmp", "--entrypoint", "sh"], ["-c", "id -u; id -g; pwd"]);
    expect(out.cbox).toBe(out.podman);
    expect(out.cbox).toBe("0\n0\n/tmp\n");
  }, 120_000);
});
