// The bridge's firewall at a container's start, for real: once cbox0 and cbox's nft table exist, a
// start runs no process for them (the table is checked and ports are added through netlink), a
// table that was flushed, deleted or written for something else is rewritten, a FORWARD policy of
// DROP is still handled, and published ports answer. cbox runs in a network namespace this file
// makes, with a PATH whose nft and iptables are wrappers that log every call before running the
// real tool; strace, when installed, shows that nothing else is run either.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { findBinary } from "../../src/linux/firewall/common.ts";
import { baseEnv, cboxBin, isRoot, rootfsFixture, type Result } from "./helpers.ts";

const tools = ["nft", "iptables", "iptables-save", "iptables-restore", "nsenter", "unshare", "busybox"];
const real = Object.fromEntries(tools.map((t) => [t, findBinary(t, process.env)]));
const missing = tools.filter((t) => !real[t]);
const skipped = !isRoot ? "needs root (it makes network namespaces)" : missing.length ? `missing tools: ${missing.join(", ")}` : undefined;
if (skipped) console.log(`bridge firewall tests skipped: ${skipped}`);
const strace = findBinary("strace", process.env);

/** A network namespace held by a sleeping process, loopback up; killed by pid at the end. */
class TestHost {
  readonly holder = Bun.spawn(["unshare", "--net", "sleep", "3600"], { stdout: "ignore", stderr: "ignore" });

  constructor() {
    for (let i = 0; i < 200 && this.sameNet(); i++) Bun.sleepSync(5);
    if (this.sameNet()) throw new Error("unshare --net did not make a namespace");
    this.must("ip", "link", "set", "lo", "up");
  }

  private sameNet(): boolean {
    try {
      return statSync(`/proc/${this.holder.pid}/ns/net`).ino === statSync("/proc/self/ns/net").ino;
    } catch {
      return true;
    }
  }

  run(cmd: string[], env: Record<string, string> = baseEnv()): Result {
    if (this.sameNet()) throw new Error(`the test's namespace is gone: not running ${cmd.join(" ")}`);
    const res = Bun.spawnSync([real.nsenter!, `--net=/proc/${this.holder.pid}/ns/net`, "--", ...cmd], { stdout: "pipe", stderr: "pipe", env });
    return { code: res.exitCode ?? -1, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
  }

  must(...cmd: string[]): string {
    const res = this.run(cmd);
    if (res.code !== 0) throw new Error(`${cmd.join(" ")}: ${res.stderr}`);
    return res.stdout;
  }

  /** The body of an HTTP GET of 127.0.0.1:port, "" when nothing answered; waits up to 10 s when asked. */
  get(port: number, wait = false): string {
    for (let i = 0; i < (wait ? 100 : 1); i++) {
      const out = this.run(["sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ${real.busybox} nc -w 3 127.0.0.1 ${port}`]).stdout;
      const at = out.indexOf("\r\n\r\n");
      if (out.startsWith("HTTP/1.") && at >= 0) return out.slice(at + 4);
      if (wait) Bun.sleepSync(100);
    }
    return "";
  }

  end(): void {
    this.holder.kill(9);
  }
}

describe.skipIf(skipped !== undefined)("the bridge's firewall at a start (root, nft)", () => {
  const fx = rootfsFixture();
  let host: TestHost;
  let wrappers = "";
  let log = "";
  let env: Record<string, string> = {};
  const ids: string[] = [];

  /** What the wrappers logged since the last call, one "tool args" line per run. */
  const ran = (): string[] => {
    const lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
    writeFileSync(log, "");
    return lines;
  };
  const cbox = (...args: string[]) => host.run([cboxBin, args[0]!, "--root", fx.store, ...args.slice(1)], env);
  const run = (...args: string[]) => cbox("run", "--rootfs", fx.rootfs, ...args);
  const serve = (body: string) => ["sh", "-c", `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 80 -h /www`];
  const table = () => host.must(real.nft!, "list", "table", "ip", "cbox");

  beforeAll(() => {
    host = new TestHost();
    wrappers = join(fx.work, "wrappers");
    log = join(fx.work, "tools.log");
    mkdirSync(wrappers);
    writeFileSync(log, "");
    // iptables' backend is read from the multi-call binary it links to: the wrappers keep Debian's shape.
    const wrapper = (name: string, target: string) => `#!/bin/sh\necho "${name} $*" >> ${log}\nexec ${target} "$@"\n`;
    writeFileSync(join(wrappers, "nft"), wrapper("nft", real.nft!));
    writeFileSync(join(wrappers, "xtables-nft-multi"), `#!/bin/sh\nname=\${0##*/}\necho "$name $*" >> ${log}\nexec ${dirname(real.iptables!)}/$name "$@"\n`);
    for (const name of ["nft", "xtables-nft-multi"]) chmodSync(join(wrappers, name), 0o755);
    for (const name of ["iptables", "iptables-save", "iptables-restore"]) symlinkSync("xtables-nft-multi", join(wrappers, name));
    env = { ...baseEnv(), PATH: `${wrappers}:${baseEnv().PATH}` };
  });

  afterAll(() => {
    if (ids.length) cbox("rm", "-f", ...ids);
    host?.end();
  });

  test("the first start makes the table with one nft run; with cbox0 and the table in place, a start runs neither nft nor iptables", () => {
    expect(run("--rm", "true")).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(ran()).toEqual(["nft -f -"]);
    expect(table()).toContain('ip saddr 10.88.0.0/16 oifname != "cbox0" masquerade comment "cbox-base-');
    for (let i = 0; i < 3; i++) expect(run("--rm", "true").code).toBe(0);
    expect(ran()).toEqual([]);
  });

  test.skipIf(!strace)("a start without -p runs no process at all: only cbox and the container's command are executed", () => {
    const trace = join(fx.work, "execve.trace");
    const res = host.run([strace!, "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", trace, cboxBin, "run", "--root", fx.store, "--rootfs", fx.rootfs, "--rm", "/bin/true"], env);
    expect(res.code).toBe(0);
    const programs = readFileSync(trace, "utf8").split("\n").filter((l) => / = 0$/.test(l)).map((l) => /execve\("([^"]+)"/.exec(l)![1]);
    expect(programs).toEqual([cboxBin, "/bin/true"]);
  });

  test("-p: the port answers from the host; neither the start nor rm runs a tool, and rm takes the port away", () => {
    const id = run("-d", "-p", "8300:80", ...serve("published")).stdout.trim();
    ids.push(id);
    expect(host.get(8300, true)).toBe("published\n");
    expect(table()).toContain(`tcp . 8300 comment "cbox:${id.slice(0, 12)}" : 10.88.`);
    expect(cbox("rm", "-f", id).code).toBe(0);
    expect(ran()).toEqual([]);
    expect(host.get(8300)).toBe("");
    expect(table()).not.toContain("8300");
  });

  test("run --rm -p: when cbox returns, the port is gone (out of the table, not answering) and the next run publishes it at once", async () => {
    for (let i = 0; i < 3; i++) {
      const script = `mkdir -p /www && echo run${i} > /www/index.html && httpd -p 80 -h /www && sleep 1`;
      const proc = Bun.spawn([real.nsenter!, `--net=/proc/${host.holder.pid}/ns/net`, "--", cboxBin, "run", "--root", fx.store, "--rootfs", fx.rootfs, "--rm", "-p", "8302:80", "sh", "-c", script], { env, stdout: "ignore", stderr: "pipe" });
      expect(host.get(8302, true)).toBe(`run${i}\n`);
      expect(await proc.exited).toBe(0);
      expect(table()).not.toContain("8302");
      expect(host.get(8302)).toBe("");
    }
    // Back to back, with nothing in between.
    for (let i = 0; i < 5; i++) expect(run("--rm", "-p", "8303:80", "true")).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(table()).not.toContain("8303");
    expect(ran()).toEqual([]);
  });

  test("a port in use stays refused: by a running container, by a host listener (tcp), by a host udp socket", () => {
    const id = run("-d", "-p", "8304:80", ...serve("holder")).stdout.trim();
    ids.push(id);
    expect(host.get(8304, true)).toBe("holder\n");
    const again = run("--rm", "-p", "8304:80", "true");
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 125, stderr: expect.stringContaining("8304") });
    const inHost = (cmd: string[]) => Bun.spawn([real.nsenter!, `--net=/proc/${host.holder.pid}/ns/net`, "--", ...cmd], { stdout: "ignore", stderr: "ignore" });
    const listeners = [inHost([real.busybox!, "nc", "-l", "-p", "8305"]), inHost([process.execPath, "-e", "Bun.udpSocket({ port: 8306 }); setInterval(() => {}, 1e6)"])];
    try {
      const sockets = () => host.must("cat", "/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6");
      const up = () => sockets().includes(":2071 ") && sockets().includes(":2072 "); // 8305 (tcp) and 8306 (udp)
      for (let i = 0; i < 250 && !up(); i++) Bun.sleepSync(20);
      expect(up()).toBe(true);
      const tcpTaken = run("--rm", "-p", "8305:80", "true");
      expect({ code: tcpTaken.code, stderr: tcpTaken.stderr }).toEqual({ code: 125, stderr: expect.stringContaining("port 8305/tcp is in use on the host") });
      const udpTaken = run("--rm", "-p", "8306:53/udp", "true");
      expect({ code: udpTaken.code, stderr: udpTaken.stderr }).toEqual({ code: 125, stderr: expect.stringContaining("port 8306/udp is in use on the host") });
      // The other protocol of a taken port is free.
      expect(run("--rm", "-p", "8306:80", "true").code).toBe(0);
    } finally {
      for (const l of listeners) l.kill(9);
      cbox("rm", "-f", id);
    }
    expect(table()).not.toMatch(/830[456]/);
  });

  test("a flushed chain, a table written by an older cbox, a deleted table: each is rewritten by one nft run; published ports are kept", () => {
    const id = run("-d", "-p", "8301:80", ...serve("kept")).stdout.trim();
    ids.push(id);
    expect(host.get(8301, true)).toBe("kept\n");
    const whole = table();
    ran();
    // Flushed: the outbound NAT is gone until the next start puts it back.
    host.must(real.nft!, "flush", "chain", "ip", "cbox", "postrouting");
    expect(run("--rm", "true").code).toBe(0);
    expect(ran()).toEqual(["nft -f -"]);
    expect(table()).toBe(whole);
    // An older cbox's guard: the same rules without the signature.
    host.must(real.nft!, "-f", "-", "flush chain ip cbox guard\nadd rule ip cbox guard iifname \"cbox0\" ip daddr 127.0.0.0/8 drop\n");
    expect(run("--rm", "true").code).toBe(0);
    expect(ran()).toEqual(["nft -f -"]);
    expect(table()).toBe(whole);
    expect(host.get(8301)).toBe("kept\n");
    // Deleted (with its ports: they went with it, the container's record still names them).
    expect(cbox("rm", "-f", id).code).toBe(0);
    host.must(real.nft!, "delete", "table", "ip", "cbox");
    expect(run("--rm", "true").code).toBe(0);
    expect(ran()).toEqual(["nft -f -"]);
    expect(table()).toContain('oifname "cbox0" ct status dnat ip saddr { 10.88.0.0/16, 127.0.0.0/8 } masquerade comment "cbox-base-');
  });

  test("FORWARD policy DROP (docker's): CBOX-FORWARD is added once by iptables-save and -restore, later starts run nothing, containers still talk", () => {
    host.must(real.iptables!, "-w", "-P", "FORWARD", "DROP");
    const id = run("-d", ...serve("through-drop")).stdout.trim();
    ids.push(id);
    expect(ran()).toEqual(["iptables-save -t filter", "iptables-restore -w --noflush"]);
    const ip = JSON.parse(cbox("inspect", id).stdout)[0].NetworkSettings.IPAddress as string;
    const client = run("--rm", "sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} 80`);
    expect(client.stdout).toContain("through-drop");
    expect(ran()).toEqual([]);
    expect(host.must(real.iptables!, "-w", "-S", "FORWARD").trim().split("\n")).toEqual(["-P FORWARD DROP", "-A FORWARD -j CBOX-FORWARD"]);
    expect(cbox("rm", "-f", id).code).toBe(0);
  });
});
