// cbox info's readers, over folders laid out as hosts' /proc, /sys and /etc.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, statSync } from "node:fs";
import { readCgroups } from "../../src/host/cgroups.ts";
import { W_OK } from "../../src/host/files.ts";
import { readHelpers, readSubids } from "../../src/host/idmap-tools.ts";
import { kernelAtLeast, kernelVersion, readKernel } from "../../src/host/kernel.ts";
import { parseSlirpVersion, readFirewall, readRootlessNetwork } from "../../src/host/network.ts";
import { readOverlay } from "../../src/host/overlay.ts";
import { readSeccomp } from "../../src/host/seccomp.ts";
import { mountOf, mountsBelow, readStorage, runtimeDir } from "../../src/host/storage.ts";
import { readUserns } from "../../src/host/userns.ts";
import { alice, FakeHostDir, HYBRID_MOUNTS, mountLine, root, V1_MOUNTS, V2_MOUNTS } from "./info-host.ts";

let host: FakeHostDir;
afterEach(() => host?.remove());

describe("kernel", () => {
  test("release and machine from /proc/sys/kernel; the machine from the build before Linux 6.1", () => {
    host = new FakeHostDir().with({ "proc/sys/kernel/osrelease": "6.1.0-18-amd64\n", "proc/sys/kernel/arch": "x86_64\n" });
    expect(readKernel(host.files())).toEqual({ release: "6.1.0-18-amd64", arch: "x86_64" });
    host.remove();
    host = new FakeHostDir().with({ "proc/sys/kernel/osrelease": "5.10.0-28-arm64\n" });
    expect(readKernel(host.files(), "arm64")).toEqual({ release: "5.10.0-28-arm64", arch: "aarch64" });
  });

  test("versions compare by major then minor", () => {
    expect(kernelVersion("6.18.44-fc-v1252")).toEqual([6, 18]);
    expect(kernelVersion("unknown")).toBeUndefined();
    expect([kernelAtLeast("5.11.0", 5, 11), kernelAtLeast("5.10.200", 5, 11), kernelAtLeast("6.0.0", 5, 12), kernelAtLeast("4.19.0", 5, 11)]).toEqual([true, false, true, false]);
  });
});

describe("user namespaces", () => {
  test("the three sysctls, each only when the kernel has it", () => {
    host = new FakeHostDir().with({
      "proc/sys/user/max_user_namespaces": "63418\n",
      "proc/sys/kernel/unprivileged_userns_clone": "0\n",
      "proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1\n",
    });
    expect(readUserns(host.files())).toEqual({ max: 63418, unprivilegedClone: 0, apparmorRestrict: 1 });
    host.remove();
    host = new FakeHostDir().with({ "proc/sys/user/max_user_namespaces": "0\n" });
    expect(readUserns(host.files())).toEqual({ max: 0, unprivilegedClone: undefined, apparmorRestrict: undefined });
  });
});

describe("overlayfs", () => {
  test("listed in /proc/filesystems, or a module in modules.dep", () => {
    host = new FakeHostDir().with({ "proc/filesystems": "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n" });
    expect(readOverlay(host.files(), "6.1.0")).toEqual({ listed: true });
    host.remove();
    host = new FakeHostDir().with({
      "proc/filesystems": "nodev\tsysfs\n\text4\n",
      "lib/modules/6.1.0/modules.dep": "kernel/fs/fat/fat.ko.xz:\nkernel/fs/overlayfs/overlay.ko.xz:\nkernel/fs/overlayfs2/x.ko:\n",
    });
    expect(readOverlay(host.files(), "6.1.0")).toEqual({ listed: false, module: "/lib/modules/6.1.0/kernel/fs/overlayfs/overlay.ko.xz" });
    // "overlay" must be the whole name: not an "overlayfs2" nor a module of another release
    expect(readOverlay(host.files(), "6.2.0")).toEqual({ listed: false });
  });
});

describe("cgroups", () => {
  test("systemd's named v1 hierarchy (name=systemd, xattr) holds no controller", () => {
    host = new FakeHostDir().with({ "proc/self/mountinfo": V1_MOUNTS.join("\n") });
    expect(readCgroups(host.files(), root).layout.hierarchies.map((h) => h.mount)).not.toContain("/sys/fs/cgroup/systemd");
  });

  test("hybrid: v1 controllers with an empty cgroup2 beside them", () => {
    host = new FakeHostDir().with({ "proc/self/mountinfo": HYBRID_MOUNTS.join("\n") });
    const c = readCgroups(host.files(), root);
    expect(c.layout.version).toBe(1);
    expect(c.layout.unified).toBe("/sys/fs/cgroup/unified");
    expect(c.layout.hierarchies.map((h) => h.controllers.join(","))).toEqual(["cpu,cpuacct", "cpuset", "memory", "devices", "pids"]);
    expect(c.rootControllers).toBeUndefined();
  });

  test("v2 as root: the root cgroup's controllers", () => {
    host = new FakeHostDir().with({ "proc/self/mountinfo": V2_MOUNTS.join("\n"), "sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n" });
    expect(readCgroups(host.files(), root)).toEqual({
      layout: { version: 2, hierarchies: [], unified: "/sys/fs/cgroup" },
      rootControllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"],
    });
  });

  // Debian 12 with systemd: a user logged in over ssh sits in a session scope that is root's.
  const service = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service";
  const v2User = (own: string, controllers: string) =>
    new FakeHostDir().with({
      "proc/self/mountinfo": V2_MOUNTS.join("\n"),
      "proc/self/cgroup": `0::${own}\n`,
      [`${service.slice(1)}/cgroup.controllers`]: controllers,
      [`${service.slice(1)}/cgroup.subtree_control`]: controllers,
      [`${service.slice(1)}/cgroup.procs`]: "",
      [`${service.slice(1)}/app.slice/run-r1.scope/cgroup.procs`]: "4242\n",
      [`${service.slice(1)}/app.slice/run-r1.scope/cgroup.subtree_control`]: "",
      "sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/cgroup.procs": "4242\n",
    });
  /** What systemd gives the user: user@1000.service and everything below it. */
  const usersOwn = (path: string, mode: number) => (mode & W_OK) !== 0 && (path === service || path.startsWith(`${service}/`));

  test("v2 as a user in an ssh session: their cgroup, nothing delegated", () => {
    host = v2User("/user.slice/user-1000.slice/session-3.scope", "cpu memory pids\n");
    expect(readCgroups(host.files({}, { can: usersOwn }), alice)).toEqual({
      layout: { version: 2, hierarchies: [], unified: "/sys/fs/cgroup" },
      own: "/user.slice/user-1000.slice/session-3.scope",
    });
  });

  test("v2 as a user in systemd-run --user --scope -p Delegate=yes: user@UID.service and its controllers", () => {
    host = v2User("/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope", "cpu memory pids\n");
    expect(readCgroups(host.files({}, { can: usersOwn }), alice)).toEqual({
      layout: { version: 2, hierarchies: [], unified: "/sys/fs/cgroup" },
      own: "/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope",
      delegated: { dir: service, controllers: ["cpu", "memory", "pids"] },
    });
  });

  test("no cgroup filesystem at all; and v1 as a user reads no delegation", () => {
    host = new FakeHostDir().with({ "proc/self/mountinfo": mountLine(20, "/", "ext4", "/dev/vda") });
    expect(readCgroups(host.files(), alice).layout).toEqual({ version: 0, hierarchies: [], unified: undefined });
    host.remove();
    host = new FakeHostDir().with({ "proc/self/mountinfo": V1_MOUNTS.join("\n"), "proc/self/cgroup": "0::/\n" });
    const c = readCgroups(host.files(), alice);
    expect([c.layout.version, c.layout.unified, c.own, c.delegated]).toEqual([1, undefined, undefined, undefined]);
  });
});

describe("subordinate ids and their helpers", () => {
  const subuid = "bob:100000:65536\nalice:165536:65536\n1000:300000:10\n";
  const subgid = "alice:165536:65536\n";

  test("a user's ranges, by name and by id", () => {
    host = new FakeHostDir().with({ "etc/subuid": subuid, "etc/subgid": subgid });
    expect(readSubids(host.files(), alice, {})).toEqual({
      subuid: [{ start: 165536, count: 65536 }, { start: 300000, count: 10 }],
      subgid: [{ start: 165536, count: 65536 }],
    });
  });

  test("root: where --userns=private's range starts, and where that comes from", () => {
    host = new FakeHostDir().with({ "etc/subuid": `${subuid}cbox:500000:65536\n`, "etc/subgid": `cbox:600000:65536\n` });
    expect(readSubids(host.files(), root, {}).privateStart).toEqual({ uid: 500000, gid: 600000, source: "entry" });
    host.remove();
    host = new FakeHostDir().with({ "etc/subuid": "cbox:500000:10\n" });
    expect(readSubids(host.files(), root, { CBOX_USERNS_START: "2000000" }).privateStart).toEqual({
      uid: "/etc/subuid: the cbox range holds 10 ids; --userns=private needs 65536",
      gid: 2000000,
      source: "entry",
    });
    expect(readSubids(host.files(), root, {}).privateStart?.gid).toBe(1073741824);
  });

  test("the helpers: found or not, setuid root or asked of getcap", () => {
    host = new FakeHostDir().with({ "usr/bin/newuidmap": "", "usr/bin/newgidmap": "" });
    const which = (name: string) => ({ newuidmap: "/usr/bin/newuidmap" })[name];
    chmodSync(`${host.dir}/usr/bin/newuidmap`, 0o4755);
    const asked: string[] = [];
    const helpers = readHelpers(host.files({}, { which }), (path) => (asked.push(path), ""));
    const setuidRoot = statSync(`${host.dir}/usr/bin/newuidmap`).uid === 0;
    expect(helpers[0]).toEqual(setuidRoot ? { name: "newuidmap", path: "/usr/bin/newuidmap", setuidRoot: true } : { name: "newuidmap", path: "/usr/bin/newuidmap", setuidRoot: false, capabilities: "" });
    expect(helpers[1]).toEqual({ name: "newgidmap", setuidRoot: false });
    expect(asked).toEqual(setuidRoot ? [] : ["/usr/bin/newuidmap"]);
    // not setuid: getcap is asked (Fedora gives the helpers file capabilities instead)
    chmodSync(`${host.dir}/usr/bin/newuidmap`, 0o755);
    expect(readHelpers(host.files({}, { which }), () => "cap_setuid=ep")[0]).toEqual({ name: "newuidmap", path: "/usr/bin/newuidmap", setuidRoot: false, capabilities: "cap_setuid=ep" });
  });
});

describe("network", () => {
  test("the firewall cbox would use: nft first, CBOX_FIREWALL's choice, or its complaint", () => {
    host = new FakeHostDir();
    const both = (name: string) => ({ nft: "/usr/sbin/nft", iptables: "/usr/sbin/iptables" })[name];
    const backend = () => "nft";
    expect(readFirewall(host.files({}, { which: both }), {}, backend)).toEqual({ tool: { kind: "nft", path: "/usr/sbin/nft" } });
    expect(readFirewall(host.files({}, { which: both }), { CBOX_FIREWALL: "iptables" }, backend)).toEqual({ chosen: "iptables", tool: { kind: "iptables", path: "/usr/sbin/iptables", backend: "nft" } });
    expect(readFirewall(host.files({}, { which: () => undefined }), {}, backend)).toEqual({});
    expect(readFirewall(host.files({}, { which: both }), { CBOX_FIREWALL: "pf" }, backend)).toEqual({ chosen: "pf", error: "CBOX_FIREWALL=pf: expected nft, iptables or none" });
  });

  test("slirp4netns and /dev/net/tun for a user", () => {
    host = new FakeHostDir().with({ "dev/net/tun": "" }, 0o600);
    const slirp = (name: string) => (name === "slirp4netns" ? "/usr/bin/slirp4netns" : undefined);
    const { uid, gid } = statSync(`${host.dir}/dev/net/tun`);
    const facts = readRootlessNetwork(host.files({}, { which: slirp, can: () => false }), {}, () => "1.2.0");
    expect(facts).toEqual({ slirp4netns: { path: "/usr/bin/slirp4netns", version: "1.2.0" }, tun: { exists: true, usable: false, mode: 0o600, owner: `${uid}:${gid}` } });
    host.remove();
    host = new FakeHostDir();
    expect(readRootlessNetwork(host.files({}, { which: () => undefined }), { CBOX_ROOTLESS_NETWORK: "none" }, () => undefined)).toEqual({ chosen: "none", tun: { exists: false, usable: false } });
  });

  test("slirp4netns --version", () => {
    expect(parseSlirpVersion("slirp4netns version 1.2.0\ncommit: 656041d45cfca7a4176f6b7eed9e4fe6c11e8383\nlibslirp: 4.7.0\n")).toBe("1.2.0");
    expect(parseSlirpVersion("usage")).toBeUndefined();
  });
});

describe("seccomp", () => {
  test("the Seccomp: field and the actions the kernel has", () => {
    host = new FakeHostDir().with({ "proc/self/status": "Name:\tcbox\nSeccomp:\t2\nSeccomp_filters:\t1\n", "proc/sys/kernel/seccomp/actions_avail": "kill_process kill_thread trap errno user_notif trace log allow\n" });
    expect(readSeccomp(host.files())).toEqual({ mode: 2, actions: ["kill_process", "kill_thread", "trap", "errno", "user_notif", "trace", "log", "allow"] });
    host.remove();
    host = new FakeHostDir().with({ "proc/self/status": "Name:\tcbox\n" });
    expect(readSeccomp(host.files())).toEqual({});
  });
});

describe("storage", () => {
  const mountinfo = [
    mountLine(20, "/", "ext4", "/dev/vda"),
    mountLine(21, "/var/lib", "xfs", "/dev/vdb"),
    mountLine(22, "/var/lib", "btrfs", "/dev/vdc"),
    mountLine(23, "/var/lib/cbox\\040data", "tmpfs", "tmpfs"),
    mountLine(24, "/var/library", "nfs", "srv:/x"),
  ].join("\n");

  test("the mount holding a path: the deepest mount point above it, the last one mounted there", () => {
    expect(mountOf(mountinfo, "/var/lib/cbox")).toEqual({ mountPoint: "/var/lib", fstype: "btrfs", source: "/dev/vdc" });
    expect(mountOf(mountinfo, "/var/lib/cbox data/images")?.fstype).toBe("tmpfs");
    expect(mountOf(mountinfo, "/var/libx")?.fstype).toBe("ext4");
    expect(mountOf(mountinfo, "/var/library/a")?.fstype).toBe("nfs");
    expect(mountsBelow(mountinfo, "/var/lib")).toEqual(["/var/lib/cbox data"]);
    expect(mountsBelow(mountinfo, "/var/lib/cbox data")).toEqual([]);
    expect(mountsBelow(mountinfo, "/")).toEqual(["/var/lib", "/var/lib", "/var/lib/cbox data", "/var/library"]);
  });

  test("a missing root: its nearest folder's filesystem and room, and whether it can be made; nothing is made", () => {
    host = new FakeHostDir().with({ "proc/self/mountinfo": mountLine(20, "/", "ext4", "/dev/vda"), "var/lib/": "" });
    const s = readStorage(host.files({}, { can: (p) => p === "/var/lib" }), "/var/lib/cbox", {}, root);
    expect(s).toMatchObject({ root: "/var/lib/cbox", kind: "none", writable: true, nearest: "/var/lib", mount: { mountPoint: "/", fstype: "ext4", source: "/dev/vda" }, runtime: { path: "/run/cbox", exists: false, foreign: false } });
    expect(s.freeBytes).toBeGreaterThan(0);
    expect(existsSync(`${host.dir}/var/lib/cbox`)).toBe(false);
  });

  test("an existing root, and a file where the root should be", () => {
    host = new FakeHostDir().with({ "proc/self/mountinfo": mountLine(20, "/", "ext4", "/dev/vda"), "home/alice/.local/share/cbox/": "", "srv/cbox": "" });
    const files = host.files({}, { can: (p) => p.startsWith("/home/alice") });
    expect(readStorage(files, "/home/alice/.local/share/cbox", { XDG_RUNTIME_DIR: "/run/user/1000" }, alice)).toMatchObject({ kind: "folder", writable: true, nearest: "/home/alice/.local/share/cbox", runtime: { path: "/run/user/1000/cbox", xdgRuntimeDir: "/run/user/1000" } });
    expect(readStorage(files, "/srv/cbox", {}, alice)).toMatchObject({ kind: "other", writable: false });
  });

  test("the runtime folder: /run/cbox, $XDG_RUNTIME_DIR/cbox, else /tmp/cbox-UID", () => {
    expect([runtimeDir({ XDG_RUNTIME_DIR: "/run/user/0" }, root), runtimeDir({ XDG_RUNTIME_DIR: "/run/user/1000" }, alice), runtimeDir({}, alice)]).toEqual(["/run/cbox", "/run/user/1000/cbox", "/tmp/cbox-1000"]);
  });
});
