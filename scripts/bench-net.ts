// The bridge network: what --network bridge and -p add to a container's start (with the nft
// driver, against the goals of issue 19, and with the iptables driver), and TCP throughput from
// the host into a container, directly and through a published port.
// Writes its own section of BENCHMARKS.md and prints it.
//
//   bun scripts/bench-net.ts
//
// Env: BENCH_RUNS (default 30, start time), BENCH_NET_RUNS (default 10, throughput),
//      BENCH_NET_BYTES (default 1 GiB, a whole number of MiB: sent by each throughput run),
//      BENCH_ROOTFS (use this rootfs instead of building one), BENCH_NO_BUILD=1 (reuse dist/cbox).
//
// Everything runs in a network namespace of its own, loopback up: the script re-executes itself
// under `unshare --net`, so cbox0, cbox's nft table and the containers live and die there and the
// host's network is never touched.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OUT, type Row, buildCbox, hyperfine, line, machineLine, ms as f, run, writeSection, buildRootfs } from "./bench-lib.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const NET_RUNS = Number(process.env.BENCH_NET_RUNS ?? 10);
const NET_WARMUP = 1;
const MIB = 1024 * 1024;
const BYTES = Number(process.env.BENCH_NET_BYTES ?? 1024 * MIB);
const PORT = 8080; // published as PORT:80 by the throughput server
const CHECK_PORT = 8081; // published as CHECK_PORT:81 by the byte-counting container
// The outer process's network namespace (its inode); set only in the re-executed child.
const MARKER = "CBOX_BENCH_NET_HOST_NETNS";

const netns = () => run(["stat", "-L", "-c", "%i", "/proc/self/ns/net"], { quiet: true }).trim();

/** Runs this script again inside `unshare --net` with loopback up; returns its exit code. */
function reexecInPrivateNetwork(): number {
  const cmd = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", process.execPath, import.meta.path, ...process.argv.slice(2)];
  const p = Bun.spawnSync({ cmd, env: { ...process.env, [MARKER]: netns() }, stdin: "inherit", stdout: "inherit", stderr: "inherit" });
  return p.exitCode ?? 1;
}

const sleep = (msec: number) => Bun.sleepSync(msec);

/** Waits until `what` returns true, or throws after `timeoutMs`. */
function waitFor(what: string, ok: () => boolean, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    sleep(50);
  }
}

type Container = { id: string; pid: number; ip: string; gateway: string; cmd: string[] };

class Cbox {
  ids: string[] = [];
  constructor(
    readonly bin: string,
    readonly store: string,
  ) {}

  cmd(...args: string[]): string[] {
    const [verb, ...rest] = args;
    return [this.bin, verb!, "--root", this.store, ...rest];
  }

  /** A detached container whose process listens on TCP `port`, up and listening. */
  startListener(rootfs: string, publish: string, port: number, script: string): Container {
    const cmd = this.cmd("run", "-d", "--rootfs", rootfs, "-p", publish, "sh", "-c", script);
    const id = run(cmd, { quiet: true }).trim();
    this.ids.push(id);
    const [c] = JSON.parse(run(this.cmd("inspect", id), { quiet: true }));
    const box: Container = { id, pid: c.State.Pid, ip: c.NetworkSettings.IPAddress, gateway: c.NetworkSettings.Gateway, cmd };
    if (!box.ip || !box.gateway) throw new Error(`cbox inspect ${id}: no NetworkSettings.IPAddress or Gateway`);
    // The container's own TCP tables (its network namespace, seen through its process): a LISTEN
    // socket (state 0A) on the port, IPv4 or IPv6 (busybox nc listens on ::, which takes both).
    // Waiting this way opens no connection the server would count.
    const listening = new RegExp(`:${port.toString(16).toUpperCase().padStart(4, "0")} 0+:0000 0A `);
    const tables = () => ["tcp", "tcp6"].map((t) => readFileSync(`/proc/${box.pid}/net/${t}`, "utf8")).join("");
    waitFor(`a listener on port ${port} in container ${id.slice(0, 12)}`, () => listening.test(tables()));
    return box;
  }

  logs(id: string): string[] {
    // `cbox logs` gives the container's stdout and stderr; the programs here write only stderr.
    const p = Bun.spawnSync({ cmd: this.cmd("logs", id), stdout: "pipe", stderr: "pipe" });
    return `${p.stdout}${p.stderr}`.split("\n").filter(Boolean);
  }

  removeAll() {
    const left = Bun.spawnSync({ cmd: this.cmd("ps", "-a", "-q"), stdout: "pipe", stderr: "ignore" }).stdout.toString().split("\n").filter(Boolean);
    const ids = [...new Set([...this.ids, ...left])];
    if (ids.length) Bun.spawnSync({ cmd: this.cmd("rm", "-f", ...ids), stdout: "ignore", stderr: "inherit" });
    this.ids = [];
  }
}

/** bash's /dev/tcp: dd writes 1 MiB blocks straight into the socket. */
const sender = (host: string, port: number) => ["bash", "-c", `dd if=/dev/zero bs=1M count=${BYTES / MIB} status=none > /dev/tcp/${host}/${port}`];

/**
 * Before timing: a container that counts what it receives (`wc -c`, one line per connection in
 * its log) gets BYTES through each of the three paths; each count must be exactly BYTES.
 */
function checkDelivery(cbox: Cbox, rootfs: string): string {
  const box = cbox.startListener(rootfs, `${CHECK_PORT}:81`, 81, `exec nc -ll -p 81 -e sh -c 'wc -c >&2'`);
  const paths: [string, number][] = [[box.ip, 81], ["127.0.0.1", CHECK_PORT], [box.gateway, CHECK_PORT]];
  paths.forEach(([host, port], i) => {
    run(sender(host, port), { quiet: true });
    waitFor(`the byte count of the send to ${host}:${port}`, () => cbox.logs(box.id).length > i, 60_000);
    const got = cbox.logs(box.id)[i]!.trim();
    if (got !== String(BYTES)) throw new Error(`sent ${BYTES} bytes to ${host}:${port}, the container counted ${got}`);
  });
  run(cbox.cmd("rm", "-f", box.id), { quiet: true });
  cbox.ids = cbox.ids.filter((id) => id !== box.id);
  return `${paths.map(([h, p]) => `${h}:${p}`).join(", ")}`;
}

/** Issue 19's goals for the nft driver, in ms: the bridge over --network none, then -p over the bridge. */
const BRIDGE_GOAL = 5;
const PUBLISH_GOAL = 10;

function startReport(rows: Row[], shown: string[]): string {
  const [none, bridge, publish, bridgeIpt, publishIpt, envNone] = rows as [Row, Row, Row, Row, Row, Row];
  const diff = (a: Row, b: Row) => `${f(a.mean - b.mean)} ms (± ${f(Math.hypot(a.stddev, b.stddev))} ms)`;
  const verdict = (a: Row, b: Row, goal: number) => `goal at most ${goal} ms: ${a.mean - b.mean <= goal ? "met" : "not met"}`;
  return [
    "### Start time",
    "",
    "Time to start a container running `/bin/true` from a busybox rootfs and wait for it to exit (`--rm`, so the veth pair, the address lease and the published port are also taken down).",
    "",
    "| command | mean ms | ± ms | min ms | max ms | vs none |",
    "|---|--:|--:|--:|--:|--:|",
    ...rows.map((r) => `| ${r.name} | ${f(r.mean)} | ${f(r.stddev)} | ${f(r.min)} | ${f(r.max)} | ${f(r.mean / none.mean)}x |`),
    "",
    `The bridge adds ${diff(bridge, none)} to a start (bridge minus none; ± the combined standard deviation; ${verdict(bridge, none, BRIDGE_GOAL)}); publishing a port adds ${diff(publish, bridge)} more (${verdict(publish, bridge, PUBLISH_GOAL)}). The goals are issue 19's for the nft driver once cbox0 and cbox's table exist (the warm-up runs make them): such a start runs no process for its network (the table is checked, and ports added and removed, through netlink), and the container's veth pair is taken apart by the kernel with its network namespace, in the background. A published port is a map element added at the start and deleted at the end, each one netlink batch; the host port is checked over sock_diag, which lists only the sockets listening on it (reading /proc/net/tcp and tcp6 walked the kernel's whole socket tables, ~2 ms). nf_tables frees a deleted element only after an RCU grace period, and releasing a netfilter socket waits for that (its NETLINK_URELEASE handler flushes the namespace's destroy work, which calls synchronize_rcu: 6-14 ms here, \`nft delete element\` pays it too); the element itself is gone when the delete is answered, so cbox's socket is kept for the whole run and its last close is made by a short-lived child (cbox-closer) that waits for the grace period after cbox has returned.`,
    "",
    `With the iptables driver (\`CBOX_FIREWALL=iptables\`, which runs iptables-save at every start and iptables-restore when something is missing, or ports are added or removed), the bridge adds ${diff(bridgeIpt, envNone)} and a published port ${diff(publishIpt, bridgeIpt)} more; those commands run under \`env\`, so they are compared with \`env ... --network none\` (${f(envNone.mean)} ms).`,
    "",
    `${machineLine(RUNS)} · every command runs without a shell (\`-N\`).`,
    "",
    "Commands (`bun scripts/bench-net.ts`):",
    "",
    ...shown.map((s, i) => `- ${rows[i]!.name}: \`${s}\``),
  ].join("\n");
}

function throughputReport(rows: Row[], server: string, shown: string[], checked: string): string {
  const [direct] = rows as [Row];
  const mb = (r: Row) => BYTES / 1e6 / (r.mean / 1000);
  const gbit = (r: Row) => (BYTES * 8) / 1e9 / (r.mean / 1000);
  const size = BYTES % (1024 * MIB) === 0 ? `${BYTES / (1024 * MIB)} GiB` : `${BYTES / MIB} MiB`;
  return [
    "### TCP throughput, host to container",
    "",
    `Time for the host to send ${size} (${BYTES} bytes) over one TCP connection to a container on cbox0 that reads it with \`dd of=/dev/null bs=1M\`; MB/s and Gbit/s from the mean (1 MB = 10^6 bytes).`,
    "",
    "| path | mean ms | ± ms | min ms | max ms | MB/s | Gbit/s | throughput vs direct |",
    "|---|--:|--:|--:|--:|--:|--:|--:|",
    ...rows.map(
      (r) => `| ${r.name} | ${f(r.mean)} | ${f(r.stddev)} | ${f(r.min)} | ${f(r.max)} | ${mb(r).toFixed(0)} | ${gbit(r).toFixed(2)} | ${f(mb(r) / mb(direct))}x |`,
    ),
    "",
    `Through the published port, ${rows
      .slice(1)
      .map((r) => {
        const [d, sd] = [r.mean - direct.mean, Math.hypot(r.stddev, direct.stddev)];
        return `${r.name.replace(/^.* via /, "via ")} throughput is ${f(mb(r) / mb(direct))}x direct's (time ${d >= 0 ? "+" : ""}${f(d)} ms, ± ${f(sd)} ms combined standard deviation${Math.abs(d) <= sd ? ": within it" : ""})`;
      })
      .join("; ")}. DNAT and masquerade are decided on a connection's first packet (conntrack) and the bytes cross the same veth pair either way, so no steady cost is expected.`,
    "",
    `Checked before timing: a container counting what it receives (\`nc -ll -p 81 -e sh -c 'wc -c >&2'\`, published as \`-p ${CHECK_PORT}:81\`) got exactly ${BYTES} bytes from the same sender through each path (${checked}). After timing: the server's log holds one dd summary per connection, ${3 * (NET_RUNS + NET_WARMUP)} in all, and every sender exited 0. The sender and the container share the machine's CPUs.`,
    "",
    `${machineLine(NET_RUNS, NET_WARMUP)} · every command runs without a shell (\`-N\`).`,
    "",
    "Commands (`bun scripts/bench-net.ts`):",
    "",
    `- server: \`${server}\` (busybox nc; \`-e\` runs dd with the connection as its stdin)`,
    ...shown.map((s, i) => `- ${rows[i]!.name}: \`${s}\``),
  ].join("\n");
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error("run as root: the bridge, its firewall table and unshare --net need it");
  const hostNs = process.env[MARKER];
  if (!hostNs) process.exit(reexecInPrivateNetwork());
  if (netns() === hostNs) throw new Error(`still in the outer network namespace (${MARKER}=${hostNs}); refusing to touch it`);
  if (!Number.isInteger(BYTES / MIB) || BYTES <= 0) throw new Error(`BENCH_NET_BYTES=${BYTES}: expected a whole number of MiB`);
  const missing = ["hyperfine", "bash", "dd", "nft", "iptables"].filter((t) => !Bun.which(t));
  if (missing.length) throw new Error(`missing tools: ${missing.join(", ")}`);

  const bin = buildCbox();
  const tmp = mkdtempSync(join(tmpdir(), "cbox-bench-net-"));
  const cbox = new Cbox(bin, join(tmp, "store"));
  try {
    const rootfs = buildRootfs(tmp);

    // 1. Start time: --network none, bridge, bridge with a published port.
    const flagSets = [
      ["--network", "none"],
      ["--network", "bridge"],
      ["--network", "bridge", "-p", `${PORT}:80`],
    ];
    const start = (flags: string[]) => cbox.cmd("run", "--rm", ...flags, "--rootfs", rootfs, "/bin/true");
    const iptables = (flags: string[], name: string) => ({ name, cmd: line(["env", "CBOX_FIREWALL=iptables", ...start(flags)]) });
    const variants = [
      ...flagSets.map((flags) => ({ name: `cbox ${flags.join(" ")}`, cmd: line(start(flags)) })),
      iptables(flagSets[1]!, "iptables driver: cbox --network bridge"),
      iptables(flagSets[2]!, `iptables driver: cbox --network bridge -p ${PORT}:80`),
      iptables(flagSets[0]!, "under env: cbox --network none"),
    ];
    const starts = await hyperfine(variants, { runs: RUNS, tmp });
    const shown = (cmd: string) => cmd.replaceAll(bin, "dist/cbox").replaceAll(cbox.store, "STORE").replaceAll(rootfs, "ROOTFS");
    const startShown = variants.map((v) => shown(v.cmd));

    // 2. Throughput: one server container, three ways in.
    const checked = checkDelivery(cbox, rootfs);
    const server = cbox.startListener(rootfs, `${PORT}:80`, 80, "exec nc -ll -p 80 -e dd of=/dev/null bs=1M");
    const paths = [
      { name: "direct to the container's address, port 80", host: server.ip, port: 80, shownHost: "CONTAINER_IP" },
      { name: `published port (-p ${PORT}:80) via 127.0.0.1:${PORT}`, host: "127.0.0.1", port: PORT, shownHost: "127.0.0.1" },
      { name: `published port (-p ${PORT}:80) via the bridge's address ${server.gateway}:${PORT}`, host: server.gateway, port: PORT, shownHost: "BRIDGE_IP" },
    ];
    const flows = await hyperfine(
      paths.map((p) => ({ name: p.name, cmd: line(sender(p.host, p.port)) })),
      { runs: NET_RUNS, warmup: NET_WARMUP, tmp },
    );
    const connections = 3 * (NET_RUNS + NET_WARMUP);
    waitFor(`${connections} dd summaries in the server's log`, () => cbox.logs(server.id).filter((l) => l.includes("records in")).length >= connections, 30_000);
    const summaries = cbox.logs(server.id).filter((l) => l.includes("records in")).length;
    if (summaries !== connections) throw new Error(`the server's log has ${summaries} dd summaries; expected ${connections}`);
    const flowShown = paths.map((p) => line(sender(p.shownHost, p.port)));

    const body = [
      "## Bridge network",
      "",
      "Everything runs in a private network namespace (the script re-executes itself under `unshare --net`, loopback up): cbox0, cbox's nft table and the containers live and die there.",
      "",
      startReport(starts, startShown),
      "",
      throughputReport(flows, shown(line(server.cmd)), flowShown, checked),
    ].join("\n");
    await writeSection("bench-net", body);
    console.log(`\n${body}\n\nwrote ${OUT}`);
  } finally {
    cbox.removeAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main().catch((e) => {
  console.error(`bench-net: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
