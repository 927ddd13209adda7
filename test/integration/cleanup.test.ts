// Nothing left behind: after many runs, failed starts, and a cbox killed with SIGKILL.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cbox, cboxCgroups, cboxSpawn, containerPid, hostMounts, isRoot, OutputReader, processesWith, rootfsFixture, treeListing } from "./helpers.ts";

const fx = rootfsFixture();

// The store's standing folders, made before the first snapshot (the first start makes them otherwise).
beforeAll(() => {
  for (const dir of ["containers", "names", "live"]) mkdirSync(join(fx.store, dir), { recursive: true });
});

/** The store without its network folder, whose lease file changes with every start (its round-robin cursor); the leases themselves. */
function snapshot() {
  const store = treeListing(fx.store, false).filter((l) => !l.startsWith("/network"));
  const leaseFile = join(fx.store, "network/leases.json");
  const leases = existsSync(leaseFile) ? JSON.parse(readFileSync(leaseFile, "utf8")).leases : {};
  return { mounts: hostMounts(), store, cgroups: cboxCgroups(), leases, links: netLinks() };
}

/**
 * The links of this network namespace (npm test's own), from /proc/net/dev; the bridge stays by
 * design. A container's veth goes with its network namespace, which the kernel takes apart in the
 * background after cbox returns: no container runs at these snapshots, so one is waited for (2 s).
 */
function netLinks(): string[] {
  let names: string[] = [];
  for (let i = 0; i < 100; i++) {
    names = readFileSync("/proc/net/dev", "utf8").split("\n").slice(2).filter(Boolean).map((l) => l.split(":")[0]!.trim());
    if (!names.some((n) => /^cb[0-9a-f]{12}$/.test(n))) break;
    Bun.sleepSync(20);
  }
  return names.filter((n) => n !== "cbox0").sort();
}

describe.skipIf(!isRoot)("nothing is left behind", () => {
  test("after 100 runs the host mount table, the storage folder and the process list are as before", () => {
    const marker = `leak-check-${process.pid}`;
    const before = snapshot();
    for (let i = 0; i < 100; i++) {
      const r = cbox(["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, "sh", "-c", `echo $0 > /f${i}; sleep 0.001 & true`, marker]);
      if (r.code !== 0) throw new Error(`run ${i}: ${r.code} ${r.stderr}`);
    }
    expect(snapshot()).toEqual(before);
    expect(processesWith(marker)).toEqual([]);
  }, 120_000);

  test("failed starts leave no folder, name, mount or process", () => {
    const before = snapshot();
    const failures: [string[], number][] = [
      [["--name", "failing", "no-such-command"], 127],
      [["--name", "failing", "/etc/passwd"], 126],
      [["-w", "/etc/passwd/sub", "true"], 125],
      [["-u", "nobody:nosuchgroup", "true"], 125],
    ];
    for (const [args, code] of failures) {
      const r = cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, ...args]);
      expect(r.code).toBe(code);
      expect(r.stderr.split("\n")).toHaveLength(2); // one line, then the final newline
    }
    expect(cbox(["run", "--root", fx.store, "--rootfs", fx.rootfs, "-w", "/etc/passwd/sub", "true"]).stderr).toBe(
      "cbox: mkdir /etc/passwd/sub: not a directory\n",
    );
    expect(snapshot()).toEqual(before);
  });

  test("a cbox killed with SIGKILL takes its container along; the next cbox command cleans the rest", async () => {
    const marker = `sigkill-check-${process.pid}`;
    const before = snapshot();
    const proc = cboxSpawn(["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, "sh", "-c", "echo ready; sleep 100; : $0", marker]);
    await new OutputReader(proc.stdout).until("ready");
    const pid1 = containerPid(proc.pid);
    proc.kill("SIGKILL");
    await proc.exited;
    await waitFor(() => !existsSync(`/proc/${pid1}`));
    expect(processesWith(marker)).toEqual([]);
    expect(readdirSync(join(fx.store, "containers"))).toHaveLength(1); // the folder the killed cbox could not remove
    expect(cbox(["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, "true"]).code).toBe(0);
    expect(snapshot()).toEqual(before);
  });

  test("a killed cbox's container without --rm is kept, recorded as exited", async () => {
    const proc = cboxSpawn(["run", "--name", "kept", "--root", fx.store, "--rootfs", fx.rootfs, "sh", "-c", "echo ready; sleep 100"]);
    await new OutputReader(proc.stdout).until("ready");
    proc.kill("SIGKILL");
    await proc.exited;
    expect(cbox(["run", "--rm", "--root", fx.store, "--rootfs", fx.rootfs, "true"]).code).toBe(0);
    const [id] = readdirSync(join(fx.store, "containers"));
    const state = await Bun.file(join(fx.store, "containers", id!, "state.json")).json();
    expect([state.status, state.exitCode, state.name]).toEqual(["exited", null, "kept"]);
    expect(cbox(["rm", "--root", fx.store, "kept"]).code).toBe(0);
    expect(readdirSync(join(fx.store, "containers"))).toEqual([]);
  });

  test("rm removes files the container made unreadable to the host user", () => {
    const r = cbox(["run", "--name", "locked", "--root", fx.store, "--rootfs", fx.rootfs, "sh", "-c", "mkdir -p /locked/in && touch /locked/in/f && chmod 000 /locked/in /locked"]);
    expect(r.code).toBe(0);
    expect(cbox(["rm", "--root", fx.store, "locked"]).code).toBe(0);
    expect(readdirSync(join(fx.store, "containers"))).toEqual([]);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await Bun.sleep(10);
  }
}

