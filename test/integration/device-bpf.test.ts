// The cgroup v2 device program on the real kernel: a process in a cgroup with it attached may open
// /dev/null but not a node for /dev/kmsg or a loop disk, even as root, while the same nodes open
// from outside. Needs root and a cgroup2 mount (pure v2, or the empty one of a hybrid host: device
// programs there are enforced too).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachDeviceBytecode, attachDeviceProgram, deviceProgram } from "../../src/linux/cgroups/device-bpf.ts";
import { parseLayout } from "../../src/linux/cgroups/detect.ts";
import { ALLOWED_DEVICES } from "../../src/linux/cgroups/devices.ts";
import { V2Cgroup } from "../../src/linux/cgroups/v2.ts";

const unified = parseLayout(readFileSync("/proc/self/mountinfo", "utf8")).unified;
const isRoot = process.getuid!() === 0;
const skipped = !isRoot ? "needs root (only root can load eBPF programs)" : !unified ? "this host has no cgroup2 mounted" : undefined;
const hex = (n: number) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Opens each path for reading (head -c 0) from a shell that first moves itself into cgroup
 * (none: stays where the test runs); "ok" or the error's text per path.
 */
function probe(cgroup: string | undefined, paths: string[], extra = ""): Record<string, string> {
  const script = `${cgroup ? 'echo $$ > "$0/cgroup.procs" || exit 99\n' : ""}${extra}
for f in "$@"; do
  if err=$(head -c 0 -- "$f" 2>&1 >/dev/null); then echo "$f=ok"; else echo "$f=\${err##*: }"; fi
done`;
  const r = Bun.spawnSync(["sh", "-c", script, cgroup ?? "-", ...paths], { env: { PATH: process.env.PATH, LC_ALL: "C" }, stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  return Object.fromEntries(
    r.stdout
      .toString()
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** This process's fds on a BPF program or a cgroup folder (the runner's own fds come and go with other tests). */
const openFds = () =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.includes("bpf") || target.includes("cbox-devtest");
    } catch {
      return false; // closed meanwhile (the listing's own fd)
    }
  }).length;

if (skipped) {
  test.skip(`device eBPF program: skipped: ${skipped}`, () => {});
  console.log(`device eBPF program tests skipped: ${skipped}`);
}

describe.skipIf(skipped !== undefined)("the device eBPF program on this host's cgroup2", () => {
  let cgroup = "";
  let nodes = "";
  let kmsg = "";
  let loop = "";
  let nullNode = "";

  beforeAll(() => {
    cgroup = join(unified!, `cbox-devtest-${hex(6)}`);
    // Nodes on a mount without nodev, so that from outside they open (or fail for another reason than EPERM).
    for (const dir of [tmpdir(), "/var/tmp", import.meta.dir]) {
      nodes = mkdtempSync(join(dir, "cbox-devnodes-"));
      kmsg = join(nodes, "kmsg");
      loop = join(nodes, "loop0");
      nullNode = join(nodes, "null");
      const made = Bun.spawnSync(["sh", "-c", `mknod "$1" c 1 11 && mknod "$2" b 7 0 && mknod "$3" c 1 3`, "-", kmsg, loop, nullNode]);
      expect(made.exitCode).toBe(0);
      if (probe(undefined, [nullNode])[nullNode] === "ok") break;
      rmSync(nodes, { recursive: true, force: true }); // a nodev mount: try the next place
      nodes = "";
    }
    if (!nodes) throw new Error("no folder without nodev for the test's device nodes");
    mkdirSync(cgroup);
  });

  afterAll(() => {
    if (existsSync(cgroup)) rmdirSync(cgroup);
    if (nodes) rmSync(nodes, { recursive: true, force: true });
    expect(existsSync(cgroup)).toBe(false);
  });

  test("attaching ALLOWED_DEVICES: /dev/null opens inside, kmsg and a loop disk fail with EPERM, which they do not outside", () => {
    const fds = openFds();
    attachDeviceProgram(cgroup, ALLOWED_DEVICES);
    expect(openFds()).toBe(fds); // the cgroup's and the program's fds are closed; the attachment holds the program

    const outside = probe(undefined, ["/dev/null", nullNode, kmsg, loop]);
    expect(outside["/dev/null"]).toBe("ok");
    expect(outside[kmsg]).toBe("ok");
    expect(outside[loop]).not.toBe("Operation not permitted"); // ok, or ENXIO and the like: not the cgroup's refusal

    const inside = probe(cgroup, ["/dev/null", "/dev/zero", nullNode, kmsg, loop]);
    expect(inside).toEqual({
      "/dev/null": "ok",
      "/dev/zero": "ok",
      [nullNode]: "ok",
      [kmsg]: "Operation not permitted",
      [loop]: "Operation not permitted",
    });
  });

  // The tests below use the program the first one attached.
  test("inside, mknod of any node is allowed (opening it is what is refused)", () => {
    const made = join(nodes, "made-inside");
    const r = Bun.spawnSync(["sh", "-c", `echo $$ > "$1/cgroup.procs" && mknod "$2" b 8 0 && head -c 0 "$2"`, "-", cgroup, made], { env: { PATH: process.env.PATH, LC_ALL: "C" }, stderr: "pipe" });
    expect(existsSync(made)).toBe(true);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("Operation not permitted");
  });

  test("a program the verifier refuses: the errno and the verifier's reason in one line, no fd left", () => {
    const fds = openFds();
    const returns7 = deviceProgram([]).slice(-16);
    returns7[4] = 7; // mov32 r0, 7; exit
    let message = "";
    try {
      attachDeviceBytecode(cgroup, returns7);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^cannot load the device eBPF program: EINVAL \(invalid argument\); verifier: .*R0 .*should have been in \[0, 1\]$/);
    expect(message).not.toContain("\n");
    expect(openFds()).toBe(fds);
  });

  test("a cgroup that is not there: one line naming the errno", () => {
    const missing = join(unified!, `cbox-devtest-missing-${hex(6)}`);
    expect(() => attachDeviceProgram(missing, ALLOWED_DEVICES)).toThrow(`cannot open ${missing} to attach the device eBPF program: ENOENT (no such file or directory)`);
  });

  test("the v2 driver attaches it to a container's cgroup, and remove leaves nothing", () => {
    const id = hex(32);
    const cg = new V2Cgroup(unified!, id, {}, []);
    cg.create();
    try {
      const dir = join(unified!, "cbox", id);
      expect(probe(dir, ["/dev/null", loop])).toEqual({ "/dev/null": "ok", [loop]: "Operation not permitted" });
    } finally {
      cg.remove();
    }
    expect(existsSync(join(unified!, "cbox", id))).toBe(false);
  });
});
