// A user's containers cannot have a veth on a bridge: slirp4netns gives one a network in user
// space instead (a tap device inside, a TCP/IP stack outside), and forwards its published ports.
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { warn } from "../../cli/output.ts";
import { CboxError, checkErrno } from "../../errors.ts";
import { isSameProcess, processStartTime } from "../../linux/proc.ts";
import type { Paths } from "../../paths.ts";
import { extraShim, netShim } from "../../sys/shim.ts";
import { killQuietly } from "../../sys/process.ts";
import type { PortSpec } from "./spec.ts";

export type HelperKind = "slirp4netns";

/** The helper of a running container, by pid and start time (a pid alone may be reused). */
export interface HelperProcess {
  kind: HelperKind;
  pid: number;
  startTime: string;
}

/** slirp4netns's API socket, made in the container's folder (its working directory). */
const API_SOCKET = "slirp4netns.sock";

/**
 * The helper to use, or undefined after saying (once per storage root) why there is none.
 * CBOX_ROOTLESS_NETWORK=none chooses loopback only, without a word.
 */
export function rootlessHelper(paths: Paths): HelperKind | undefined {
  if (process.env.CBOX_ROOTLESS_NETWORK === "none") return undefined;
  const why = helperMissing();
  if (!why) return "slirp4netns";
  const marker = join(paths.root, "network-none-noticed");
  if (!existsSync(marker)) {
    warn(`containers get loopback only (--network none): ${why}`);
    try {
      mkdirSync(paths.root, { recursive: true, mode: 0o700 });
      writeFileSync(marker, `${why}\n`, { mode: 0o644 });
    } catch {
      // the store is not made yet on a first run: said again next time
    }
  }
  return undefined;
}

/** Why a user's container cannot have a network, or undefined when it can. */
export function helperMissing(): string | undefined {
  const chosen = process.env.CBOX_ROOTLESS_NETWORK;
  if (chosen === "none") return "CBOX_ROOTLESS_NETWORK=none";
  if (chosen && chosen !== "slirp4netns") throw new CboxError(`CBOX_ROOTLESS_NETWORK="${chosen}": expected slirp4netns or none`);
  if (!Bun.which("slirp4netns")) return "slirp4netns is not installed (apt-get install slirp4netns)";
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch {
    return "/dev/net/tun is missing or not open to this user (slirp4netns needs it)";
  }
  return undefined;
}

/**
 * Starts slirp4netns on the held container pid (it joins the container's user and network
 * namespaces as their owner), waits until eth0 is configured, then publishes the ports.
 * It runs in a session of its own and outlives this cbox with a detached container.
 */
export function startHelper(kind: HelperKind, pid: number, dir: string, ports: PortSpec[]): HelperProcess {
  const ready = new Int32Array(2);
  checkErrno("pipe", extraShim().cbox_pipe(ready));
  const log = openSync(join(dir, `${kind}.log`), "a", 0o600);
  let helper: HelperProcess;
  try {
    const args = ["--configure", "--mtu=65520", "--disable-host-loopback", "--api-socket", API_SOCKET, "--ready-fd", "3", String(pid), "eth0"];
    // Loaded here: node:child_process costs ~0.4 ms to load, and every start loads this module.
    const { spawn } = require("node:child_process") as typeof import("node:child_process");
    const child = spawn(kind, args, { cwd: dir, stdio: ["ignore", log, log, ready[1]!], detached: true, env: process.env });
    child.unref();
    closeSync(ready[1]!);
    const ok = readSync(ready[0]!, Buffer.alloc(1)) === 1;
    helper = { kind, pid: child.pid ?? 0, startTime: child.pid ? (processStartTime(child.pid) ?? "") : "" };
    if (!ok) throw new CboxError(`${kind} could not give the container a network (see ${join(dir, `${kind}.log`)})`);
  } finally {
    closeSync(ready[0]!);
    closeSync(log);
  }
  try {
    for (const port of ports) addHostForward(helper, port);
  } catch (err) {
    stopHelper(helper);
    throw err;
  }
  return helper;
}

export function stopHelper(helper: HelperProcess): void {
  if (helper.pid > 0 && isSameProcess(helper.pid, helper.startTime)) killQuietly(helper.pid);
}

function addHostForward(helper: HelperProcess, port: PortSpec): void {
  const request = {
    execute: "add_hostfwd",
    arguments: { proto: port.proto, host_addr: port.hostIp || "0.0.0.0", host_port: port.hostPort, guest_port: port.containerPort },
  };
  const reply = apiRequest(helper.pid, request) as { error?: { desc?: string } };
  if (reply.error) {
    throw new CboxError(`cannot publish port ${port.hostPort}/${port.proto}: ${reply.error.desc ?? "refused"} (is it in use on the host?)`);
  }
}

/** One request on slirp4netns's API socket: a JSON object out, one back. */
function apiRequest(pid: number, request: object): unknown {
  const net = netShim();
  // Reached through the helper's working directory: the socket's own path may be longer than
  // the 108 bytes a socket address holds.
  const fd = checkErrno("connect to slirp4netns", net.cbox_unix_connect(Buffer.from(`/proc/${pid}/cwd/${API_SOCKET}\0`)));
  try {
    const out = Buffer.from(JSON.stringify(request));
    checkErrno("send to slirp4netns", net.cbox_send(fd, out, out.length));
    checkErrno("shutdown", net.cbox_shutdown_write(fd));
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(4096);
      const n = checkErrno("receive from slirp4netns", net.cbox_recv(fd, buf, buf.length));
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } finally {
    closeSync(fd);
  }
}
