// Named networks: `cbox network create|ls|inspect|rm`, containers on them reaching each other by
// name and alias through /etc/hosts, kept right as containers come and go. The tests run in the
// private network namespace scripts/test.ts gives them: bridges and firewall rules stay there.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { cbox, isRoot, rootfsFixture, rootlessUserFixture, type Result } from "./helpers.ts";

const fx = rootfsFixture();
const user = rootlessUserFixture("cbox-netnamed", 2_100_000);
const c = (args: string[]) => cbox([args[0]!, ...(args[0] === "network" ? [args[1]!, "--root", fx.store, ...args.slice(2)] : ["--root", fx.store, ...args.slice(1)])]);

/** A web server answering its own name, on a network. */
function serve(name: string, network: string, extra: string[] = []): Result {
  return c(["run", "-d", "--name", name, "--network", network, ...extra, "--rootfs", fx.rootfs, "sh", "-c", `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 80 -h /www`]);
}

/** An HTTP GET by host name, from a container on the network (busybox nc; the body). */
const GET = (host: string) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 ${host} 80 | tail -1`;

function linkExists(name: string): boolean {
  return Bun.spawnSync(["ip", "link", "show", name], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

function cleanup(containers: string[], networks: string[]) {
  for (const name of containers) c(["rm", "-f", name]); // one by one: rm stops at a name already gone
  for (const n of networks) c(["network", "rm", n]);
}

describe.skipIf(!isRoot)("named networks", () => {
  test("a client reaches a web server by name and alias; again after the server is made again with another address", () => {
    try {
      expect(c(["network", "create", "appnet"]).code).toBe(0);
      // A long-running member: its /etc/hosts must follow the server as it comes and goes.
      expect(c(["run", "-d", "--name", "watcher", "--network", "appnet", "--rootfs", fx.rootfs, "sleep", "300"]).code).toBe(0);
      expect(serve("web", "appnet", ["--network-alias", "api"]).code).toBe(0);
      const first = JSON.parse(c(["inspect", "web"]).stdout)[0].NetworkSettings.IPAddress;
      const client = (script: string) => c(["run", "--rm", "--network", "appnet", "--rootfs", fx.rootfs, "sh", "-c", script]);
      const r = client(`for i in 1 2 3 4 5 6 7 8 9 10; do ${GET("web")} | grep -q web && break; sleep 0.2; done; ${GET("web")}; ${GET("api")}`);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("web\nweb\n");
      expect(c(["exec", "watcher", "grep", "-w", "web", "/etc/hosts"]).stdout).toBe(`${first}\tweb api ${JSON.parse(c(["inspect", "web"]).stdout)[0].Id.slice(0, 12)}\n`);

      expect(c(["rm", "-f", "web"]).code).toBe(0);
      expect(c(["exec", "watcher", "grep", "-cw", "web", "/etc/hosts"]).stdout).toBe("0\n");
      // The address web had is not handed out first again: the new one differs.
      expect(serve("web", "appnet").code).toBe(0);
      const second = JSON.parse(c(["inspect", "web"]).stdout)[0].NetworkSettings.IPAddress;
      expect(second).not.toBe(first);
      expect(c(["exec", "watcher", "grep", "-w", "web", "/etc/hosts"]).stdout).toStartWith(`${second}\tweb `);
      const again = c(["exec", "watcher", "sh", "-c", `for i in 1 2 3 4 5 6 7 8 9 10; do ${GET("web")} | grep -q web && break; sleep 0.2; done; ${GET("web")}`]);
      expect(again.stdout).toBe("web\n");
    } finally {
      cleanup(["web", "watcher"], ["appnet"]);
    }
    expect(c(["network", "ls", "-q"]).stdout.split("\n").filter(Boolean)).toHaveLength(3); // bridge, host, none
  });

  test("each network is a bridge of its own, with a subnet of its own; networks do not reach each other", () => {
    try {
      const a = c(["network", "create", "--subnet", "10.120.0.0/24", "neta"]);
      expect(a.stdout).toMatch(/^[0-9a-f]{64}\n$/);
      expect(c(["network", "create", "netb"]).code).toBe(0);
      const [na, nb] = JSON.parse(c(["network", "inspect", "neta", "netb"]).stdout);
      expect(na.IPAM.Config[0]).toEqual({ Subnet: "10.120.0.0/24", Gateway: "10.120.0.1" });
      expect(nb.IPAM.Config[0].Subnet).not.toBe(na.IPAM.Config[0].Subnet);
      expect(linkExists(na.Options["com.docker.network.bridge.name"])).toBe(true);
      expect(serve("on-a", "neta").code).toBe(0);
      const ipA = JSON.parse(c(["inspect", "on-a"]).stdout)[0].NetworkSettings.IPAddress;
      expect(ipA).toStartWith("10.120.0.");
      const fromB = c(["run", "--rm", "--network", "netb", "--rootfs", fx.rootfs, "sh", "-c", `${GET(ipA)}; grep -c on-a /etc/hosts`]);
      expect(fromB.stdout).toBe("0\n"); // no answer from the other network, and no name for it
      const list = c(["network", "ls"]).stdout;
      expect(list).toMatch(/^NETWORK ID +NAME +DRIVER +SCOPE\n/);
      expect(list).toMatch(/\n[0-9a-f]{12} +neta +bridge +local\n/);
      expect(JSON.parse(c(["network", "inspect", "neta"]).stdout)[0].Containers).toEqual({ [JSON.parse(c(["inspect", "on-a"]).stdout)[0].Id]: { Name: "on-a", IPv4Address: ipA } });
    } finally {
      cleanup(["on-a"], ["neta", "netb"]);
    }
    expect(c(["network", "ls"]).stdout).not.toContain("neta");
    expect(Bun.spawnSync(["ip", "-o", "link", "show"]).stdout.toString()).not.toContain("cbr");
  });

  test("network connect gives a running container eth1 on another network, with names both ways; disconnect takes it away", () => {
    try {
      for (const n of ["front", "back"]) expect(c(["network", "create", n]).code).toBe(0);
      expect(serve("db", "back").code).toBe(0);
      expect(c(["run", "-d", "--name", "app", "--network", "front", "--rootfs", fx.rootfs, "sleep", "300"]).code).toBe(0);
      expect(c(["exec", "app", "grep", "-cw", "db", "/etc/hosts"]).stdout).toBe("0\n"); // -w: a short id may hold "db"
      expect(c(["network", "connect", "--alias", "frontend", "back", "app"])).toEqual({ code: 0, stdout: "", stderr: "" });
      const inside = c(["exec", "app", "sh", "-c", `ip -o -4 addr show eth1 | wc -l; ip route | grep -c default; for i in 1 2 3 4 5 6 7 8 9 10; do ${GET("db")} | grep -q db && break; sleep 0.2; done; ${GET("db")}`]);
      expect(inside.stdout).toBe("1\n1\ndb\n");
      expect(c(["exec", "db", "grep", "-w", "app", "/etc/hosts"]).stdout).toMatch(/^10\.\d+\.\d+\.\d+\tapp frontend [0-9a-f]{12}\n$/);
      expect(JSON.parse(c(["network", "inspect", "back"]).stdout)[0].Containers).toHaveProperty(JSON.parse(c(["inspect", "app"]).stdout)[0].Id);
      const twice = c(["network", "connect", "back", "app"]);
      expect(twice).toEqual({ code: 125, stdout: "", stderr: "cbox: container app is on network back already\n" });
      expect(c(["network", "disconnect", "front", "app"])).toMatchObject({ code: 125, stderr: "cbox: container app was started on network front, which cbox cannot take from it while it runs; stop it, or run it again on another network\n" });
      expect(c(["network", "disconnect", "back", "app"])).toEqual({ code: 0, stdout: "", stderr: "" });
      expect(c(["exec", "app", "sh", "-c", "ip link show eth1 2>/dev/null | wc -l; grep -cw db /etc/hosts"]).stdout).toBe("0\n0\n");
      expect(c(["exec", "db", "grep", "-cw", "app", "/etc/hosts"]).stdout).toBe("0\n");
      expect(c(["network", "disconnect", "back", "app"])).toMatchObject({ code: 125, stderr: "cbox: container app is not connected to network back\n" });
      // Connected again, then removed: its lease goes with it.
      expect(c(["network", "connect", "back", "app"]).code).toBe(0);
      expect(c(["exec", "app", "sh", "-c", "ip -o link show eth1 | wc -l"]).stdout).toBe("1\n"); // the number the disconnect freed
      expect(c(["rm", "-f", "app"]).code).toBe(0);
      expect(JSON.parse(c(["network", "inspect", "back"]).stdout)[0].Containers).toEqual({ [JSON.parse(c(["inspect", "db"]).stdout)[0].Id]: expect.any(Object) });
      expect(c(["run", "--name", "stopped", "--network", "front", "--rootfs", fx.rootfs, "true"]).code).toBe(0);
      expect(c(["network", "connect", "back", "stopped"])).toMatchObject({ code: 125, stderr: "cbox: container stopped is not running; cbox network connect works on running containers\n" });
      expect(c(["network", "connect", "nosuch", "db"])).toMatchObject({ code: 125, stderr: expect.stringContaining("no such network: nosuch") });
      expect(c(["network", "connect", "back"])).toMatchObject({ code: 125, stderr: "cbox: cbox network connect needs a network and a container: cbox network connect NETWORK CONTAINER\n" });
    } finally {
      cleanup(["app", "db", "stopped"], ["front", "back"]);
    }
  });

  test("bad inputs: one line, 125, nothing left", () => {
    const containers = () => (existsSync(join(fx.store, "containers")) ? readdirSync(join(fx.store, "containers")).filter((d) => /^[0-9a-f]{64}$/.test(d)) : []);
    const refused = (r: Result, text: string) => {
      expect(r.stderr).toMatch(text);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.code).toBe(125);
      expect(containers()).toEqual([]);
    };
    try {
      expect(c(["network", "create", "inuse"]).code).toBe(0);
      refused(c(["network", "create", "inuse"]), "network inuse exists already");
      refused(c(["network", "create", "bridge"]), `network name "bridge" is one of docker's own`);
      refused(c(["network", "create", "bad/name"]), `network name "bad/name": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      refused(c(["network", "create", "--subnet", "10.120.0.1/24", "x1"]), `subnet "10.120.0.1/24": host bits are set`);
      refused(c(["network", "create", "--driver", "overlay", "x2"]), "--driver overlay: cbox has the bridge driver only");
      refused(c(["network", "create"]), "cbox network create needs one network name");
      refused(c(["network", "rm", "nosuch"]), "no such network: nosuch");
      refused(c(["network", "inspect", "nosuch"]), "no such network: nosuch");
      refused(c(["network", "frobnicate"]), `unknown command "network frobnicate"`);
      refused(c(["run", "--rm", "--network", "nosuch", "--rootfs", fx.rootfs, "true"]), `--network "nosuch": no such network (cbox network ls lists them; cbox network create nosuch makes it)`);
      refused(c(["run", "--rm", "--network", "bridge", "--network-alias", "x", "--rootfs", fx.rootfs, "true"]), "--network-alias x: aliases are for named networks");
      expect(c(["run", "-d", "--name", "holder", "--network", "inuse", "--rootfs", fx.rootfs, "sleep", "300"]).code).toBe(0);
      const busy = c(["network", "rm", "inuse"]);
      expect(busy).toMatchObject({ code: 125, stderr: "cbox: network inuse is in use by container holder; stop or remove it first\n" });
      const rootless = cbox(["run", "--rm", "--root", user.store, "--network", "inuse", "--rootfs", user.rootfs, "true"], { as: user.as });
      expect(rootless).toMatchObject({ code: 125, stderr: "cbox: --network inuse: named networks are for root's containers; an ordinary user's containers each get slirp4netns (--network bridge)\n" });
      expect(cbox(["network", "create", "--root", user.store, "mine"], { as: user.as })).toMatchObject({ code: 125, stderr: "cbox: cbox network create: named networks are for root (an ordinary user's containers each get slirp4netns)\n" });
    } finally {
      cleanup(["holder"], ["inuse"]);
    }
    expect(c(["network", "ls", "--format", "json"]).stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l).Name)).toEqual(["bridge", "host", "none"]);
  });
});
