// cbox info's checks: pure functions of the facts read from a host, for root and for a user.
import { describe, expect, test } from "bun:test";
import { cgroupChecks, layoutName, type CgroupFacts } from "../../src/host/cgroups.ts";
import { helperCheck, subidCheck, type SubidFacts } from "../../src/host/idmap-tools.ts";
import { idmappedCheck } from "../../src/host/idmapped.ts";
import { kernelCheck, requireSupportedKernel } from "../../src/host/kernel.ts";
import { networkChecks, type RootlessNetworkFacts } from "../../src/host/network.ts";
import { overlayCheck, overlayUsernsCheck } from "../../src/host/overlay.ts";
import { seccompCheck } from "../../src/host/seccomp.ts";
import { runtimeCheck, storageCheck, type StorageFacts } from "../../src/host/storage.ts";
import { usernsChecks } from "../../src/host/userns.ts";
import { alice, root } from "./info-host.ts";

const statuses = (checks: { name: string; status: string }[]) => checks.map((c) => `${c.status} ${c.name}`);

describe("kernel", () => {
  test("run, start and exec refuse a kernel older than 5.11 in one line; newer and unreadable versions pass", () => {
    expect(() => requireSupportedKernel("5.10.0-28-amd64")).toThrow(
      "Linux 5.10.0-28-amd64 is too old for cbox: it needs 5.11 or later (close_range with CLOEXEC, overlayfs in user namespaces); cbox info tells what else this host lacks",
    );
    for (const release of ["5.11.0", "6.1.0-18-amd64", "10.0", "weird"]) expect(() => requireSupportedKernel(release)).not.toThrow();
  });

  test("5.11 or later on x86_64 or aarch64", () => {
    expect(kernelCheck({ release: "6.1.0-18-amd64", arch: "x86_64" })).toEqual({ name: "kernel", status: "ok", detail: "Linux 6.1.0-18-amd64 x86_64" });
    expect(kernelCheck({ release: "5.11.0", arch: "aarch64" }).status).toBe("ok");
  });

  test("older is missing, with the reason; another CPU is a warning", () => {
    expect(kernelCheck({ release: "5.10.0-28-amd64", arch: "x86_64" })).toEqual({
      name: "kernel",
      status: "missing",
      detail: "Linux 5.10.0-28-amd64 x86_64: cbox needs Linux 5.11 or later (close_range with CLOEXEC, overlayfs in user namespaces)",
      fix: "upgrade the kernel to 5.11 or later",
    });
    expect(kernelCheck({ release: "6.6.0", arch: "riscv64" })).toMatchObject({ status: "warn", fix: "run containers with --security-opt seccomp=unconfined" });
    expect(kernelCheck({ release: "unknown", arch: "x86_64" }).status).toBe("warn");
  });
});

describe("user namespaces", () => {
  test("allowed, and made by the probe", () => {
    expect(usernsChecks({ max: 63418, created: true }, alice)).toEqual([{ name: "user namespaces", status: "ok", detail: "max_user_namespaces=63418; made one" }]);
    expect(usernsChecks({ max: 63418, unprivilegedClone: 1 }, alice)[0]!.detail).toBe("max_user_namespaces=63418, unprivileged_userns_clone=1");
  });

  test("max_user_namespaces=0: missing for a user, a warning for root (only --userns=private needs them)", () => {
    const [user] = usernsChecks({ max: 0 }, alice);
    expect(user).toEqual({
      name: "user namespaces",
      status: "missing",
      detail: "user.max_user_namespaces=0: the kernel allows none, so containers cannot run",
      fix: "sysctl -w user.max_user_namespaces=15000 (and in a file of /etc/sysctl.d/ to keep it)",
    });
    expect(usernsChecks({ max: 0 }, root)[0]).toMatchObject({ status: "warn", detail: "user.max_user_namespaces=0: the kernel allows none, so --userns=private cannot run" });
  });

  test("Debian's unprivileged_userns_clone=0 stops users only", () => {
    expect(usernsChecks({ max: 100, unprivilegedClone: 0 }, alice)[0]).toEqual({
      name: "user namespaces",
      status: "missing",
      detail: "kernel.unprivileged_userns_clone=0: only root may make them, so containers cannot run",
      fix: "sysctl -w kernel.unprivileged_userns_clone=1 (and in a file of /etc/sysctl.d/ to keep it), or run cbox as root",
    });
    expect(usernsChecks({ max: 100, unprivilegedClone: 0 }, root)[0]!.status).toBe("ok");
  });

  test("a clone that failed anyway says why", () => {
    expect(usernsChecks({ max: 100, created: "operation not permitted" }, alice)[0]).toMatchObject({
      status: "missing",
      detail: "max_user_namespaces=100, but making one failed: operation not permitted, so containers cannot run",
    });
  });

  test("in a chroot: says so, and that the kernel refuses them there", () => {
    expect(usernsChecks({ max: 100, created: "operation not permitted", chrooted: true }, root)[0]).toEqual({
      name: "user namespaces",
      status: "warn",
      detail: "max_user_namespaces=100, but making one failed: operation not permitted: cbox runs in a chroot, where the kernel allows none, so --userns=private cannot run",
      fix: "run cbox outside the chroot (or in a container with a mount namespace of its own)",
    });
  });

  test("Ubuntu's AppArmor restriction: a line only where the sysctl exists; missing for users when on", () => {
    expect(usernsChecks({ max: 100 }, alice)).toHaveLength(1);
    const [, user] = usernsChecks({ max: 100, apparmorRestrict: 1 }, alice);
    expect(user).toEqual({
      name: "apparmor userns",
      status: "missing",
      detail: "kernel.apparmor_restrict_unprivileged_userns=1: AppArmor takes every capability away in an ordinary user's new user namespace, so containers cannot mount their root",
      fix: "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (and in a file of /etc/sysctl.d/ to keep it), or an AppArmor profile for cbox's path that allows userns (see README, cbox info)",
    });
    expect(usernsChecks({ max: 100, apparmorRestrict: 1 }, root)[1]).toEqual({ name: "apparmor userns", status: "ok", detail: "kernel.apparmor_restrict_unprivileged_userns=1 (does not apply to root)" });
    expect(usernsChecks({ max: 100, apparmorRestrict: 0 }, alice)[1]!.status).toBe("ok");
  });
});

describe("overlayfs", () => {
  test("listed, loadable, or missing", () => {
    expect(overlayCheck({ listed: true }).status).toBe("ok");
    expect(overlayCheck({ listed: false, module: "/lib/modules/6.1.0/kernel/fs/overlayfs/overlay.ko.xz" }).detail).toBe("a module, loaded at the first mount (/lib/modules/6.1.0/kernel/fs/overlayfs/overlay.ko.xz)");
    expect(overlayCheck({ listed: false })).toMatchObject({ status: "missing", fix: "a kernel with CONFIG_OVERLAY_FS (or install its modules: modprobe overlay)" });
  });

  test("in a user namespace: what the probe did, where, and which step failed", () => {
    const where = { where: "/var/lib/cbox", filesystem: "ext4 (/dev/vda on /)" };
    expect(overlayUsernsCheck(where, alice)).toEqual({ name: "overlay in userns", status: "ok", detail: "mounted in a new user namespace, written and deleted through, in /var/lib/cbox on ext4 (/dev/vda on /)" });
    expect(overlayUsernsCheck({ ...where, failed: { step: "mount", reason: "operation not permitted" } }, alice)).toEqual({
      name: "overlay in userns",
      status: "missing",
      detail: "mounting the overlay failed in /var/lib/cbox on ext4 (/dev/vda on /): operation not permitted; containers cannot run",
      fix: "Linux 5.11 or later, no AppArmor restriction (see apparmor userns); if ext4 (/dev/vda on /) cannot hold an overlay's upper layer, a --root on ext4, xfs or btrfs",
    });
    const tmpfs = { where: "/tmp", filesystem: "tmpfs (tmpfs on /tmp)", failed: { step: "copy up" as const, reason: "operation not supported" } };
    expect(overlayUsernsCheck(tmpfs, root)).toMatchObject({
      status: "warn",
      detail: "writing into a folder of the lower layer (copy-up) failed in /tmp on tmpfs (tmpfs on /tmp): operation not supported; --userns=private containers cannot run",
      fix: "a --root on a filesystem with user extended attributes (ext4, xfs, btrfs; not tmpfs (tmpfs on /tmp))",
    });
    expect(overlayUsernsCheck({ ...where, failed: { step: "clone", reason: "no space left on device" } }, alice).fix).toBe("see user namespaces");
    expect(overlayUsernsCheck(undefined, alice)).toEqual({ name: "overlay in userns", status: "missing", detail: "not tried: overlayfs is missing" });
  });
});

describe("idmapped mounts", () => {
  const facts = { release: "6.1.0", path: "/var/lib/cbox", filesystem: "ext4 (/dev/vda on /)" };

  test("root: the probe's answer", () => {
    expect(idmappedCheck({ ...facts, probe: true }, root)).toEqual({ name: "idmapped mounts", status: "ok", detail: "made an idmapped copy of /var/lib/cbox on ext4 (/dev/vda on /)" });
    expect(idmappedCheck({ ...facts, probe: { failed: "invalid argument" } }, root)).toEqual({
      name: "idmapped mounts",
      status: "warn",
      detail: "/var/lib/cbox on ext4 (/dev/vda on /) cannot be idmapped: invalid argument; --userns=private keeps one copy of each image per id range instead (more disk, a slower first start)",
      fix: "a --root on ext4, xfs or btrfs (tmpfs from Linux 6.3)",
    });
    expect(idmappedCheck({ ...facts, probe: { skipped: "other filesystems are mounted below it (/proc, ...)" } }, root).detail).toBe("Linux 6.1.0 has them; /var/lib/cbox on ext4 (/dev/vda on /) not tried: other filesystems are mounted below it (/proc, ...)");
  });

  test("before 5.12: a warning for root; a user never uses them", () => {
    expect(idmappedCheck({ ...facts, release: "5.11.4" }, root)).toMatchObject({ status: "warn", fix: "upgrade the kernel to 5.12 or later" });
    expect(idmappedCheck({ ...facts, release: "5.11.4" }, alice)).toEqual({ name: "idmapped mounts", status: "ok", detail: "Linux 5.11.4 has none; only root's --userns=private uses them" });
    expect(idmappedCheck(facts, alice).detail).toBe("Linux 6.1.0 has them; only root's --userns=private uses them");
  });
});

describe("cgroups", () => {
  const v1 = (controllers: string[][], unified?: string): CgroupFacts => ({
    layout: { version: 1, hierarchies: controllers.map((cs) => ({ mount: `/sys/fs/cgroup/${cs.join(",")}`, controllers: cs })), unified },
  });
  const all = [["cpu", "cpuacct"], ["cpuset"], ["memory"], ["devices"], ["pids"]];
  const v2 = (extra: Partial<CgroupFacts> = {}): CgroupFacts => ({ layout: { version: 2, hierarchies: [], unified: "/sys/fs/cgroup" }, ...extra });

  test("layout names", () => {
    expect([layoutName(v1(all).layout), layoutName(v1(all, "/sys/fs/cgroup/unified").layout), layoutName(v2().layout), layoutName({ version: 0, hierarchies: [] })]).toEqual(["v1", "hybrid", "v2", "none"]);
  });

  test("root on hybrid v1: every controller there", () => {
    expect(cgroupChecks(v1(all, "/sys/fs/cgroup/unified"), root)).toEqual([
      { name: "cgroups", status: "ok", detail: "hybrid: v1 controllers under /sys/fs/cgroup, a cgroup2 at /sys/fs/cgroup/unified (cbox uses v1); controllers: cpu cpuacct cpuset memory devices pids" },
    ]);
  });

  test("root on v1: no devices controller stops every container; a missing limit controller refuses its flags", () => {
    expect(cgroupChecks(v1([["cpu"], ["memory"], ["pids"], ["cpuset"]]), root)[0]).toMatchObject({ status: "missing", detail: "v1: v1 controllers under /sys/fs/cgroup; controllers: cpu memory pids cpuset; no devices controller, so containers cannot start without --privileged" });
    expect(cgroupChecks(v1([["cpu"], ["memory"], ["devices"]]), root)[0]).toMatchObject({
      status: "warn",
      detail: "v1: v1 controllers under /sys/fs/cgroup; controllers: cpu memory devices; no cpuset, pids (--cpuset-cpus, --pids-limit refused)",
    });
  });

  test("root on v2: the root cgroup's controllers", () => {
    expect(cgroupChecks(v2({ rootControllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"] }), root)).toEqual([{ name: "cgroups", status: "ok", detail: "v2 at /sys/fs/cgroup; controllers: cpuset cpu io memory hugetlb pids" }]);
    expect(cgroupChecks(v2({ rootControllers: ["cpu", "io", "pids"] }), root)[0]).toMatchObject({ status: "warn", detail: "v2 at /sys/fs/cgroup; controllers: cpu io pids; no memory, cpuset (--memory, --memory-swap, --memory-reservation, --cpuset-cpus refused)" });
  });

  test("a user on v1: no limits, and the way to cgroup v2", () => {
    expect(cgroupChecks(v1(all, "/sys/fs/cgroup/unified"), alice)).toEqual([
      { name: "cgroups", status: "ok", detail: "hybrid: v1 controllers under /sys/fs/cgroup, a cgroup2 at /sys/fs/cgroup/unified (cbox uses v1)" },
      {
        name: "cgroup delegation",
        status: "missing",
        detail: "cgroup v1: an ordinary user's containers get no limits (limit flags are refused)",
        fix: "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2, which systemd can delegate), or run as root",
      },
    ]);
  });

  test("a user on v2 without delegation (an ssh session): how to get it", () => {
    expect(cgroupChecks(v2({ own: "/user.slice/user-1000.slice/session-3.scope" }), alice)[1]).toEqual({
      name: "cgroup delegation",
      status: "missing",
      detail: "your cgroup /user.slice/user-1000.slice/session-3.scope is not delegated to you: containers run without limits",
      fix: "run cbox in a delegated scope: systemd-run --user --scope -p Delegate=yes cbox run ...",
    });
    expect(cgroupChecks(v2(), alice)[1]!.detail).toBe("cbox cannot find your cgroup (no 0:: line in /proc/self/cgroup): containers run without limits");
  });

  test("a user on v2 in a delegated scope: the controllers, and the drop-in for the missing ones", () => {
    const dir = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service";
    const own = "/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope";
    expect(cgroupChecks(v2({ own, delegated: { dir, controllers: ["cpu", "memory", "pids"] } }), alice)[1]).toEqual({
      name: "cgroup delegation",
      status: "warn",
      detail: `${dir}: cpu memory pids; no cpuset (--cpuset-cpus refused)`,
      fix: "as root: mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload, then log in again",
    });
    expect(cgroupChecks(v2({ own, delegated: { dir, controllers: ["cpuset", "cpu", "io", "memory", "pids"] } }), alice)[1]).toEqual({ name: "cgroup delegation", status: "ok", detail: `${dir}: cpuset cpu io memory pids` });
  });

  test("no cgroups mounted: one line, for root and users alike", () => {
    const none: CgroupFacts = { layout: { version: 0, hierarchies: [] } };
    expect(cgroupChecks(none, alice)).toEqual([{ name: "cgroups", status: "missing", detail: "none mounted: limit flags are refused", fix: "mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)" }]);
    expect(statuses(cgroupChecks(none, root))).toEqual(["missing cgroups"]);
  });
});

describe("subordinate ids and helpers", () => {
  const ranges: SubidFacts = { subuid: [{ start: 100000, count: 65536 }], subgid: [{ start: 100000, count: 65536 }] };

  test("a user's ranges, mapped by the helpers", () => {
    expect(subidCheck({ ...ranges, mapped: true }, alice)).toEqual({ name: "subordinate ids", status: "ok", detail: "uids 100000-165535, gids 100000-165535; newuidmap and newgidmap mapped them" });
    expect(subidCheck({ ...ranges, mapped: "/usr/bin/newuidmap: write to uid_map failed: Operation not permitted" }, alice)).toMatchObject({
      status: "missing",
      detail: "uids 100000-165535, gids 100000-165535, but mapping them failed: /usr/bin/newuidmap: write to uid_map failed: Operation not permitted",
    });
  });

  test("a user without ranges: a warning, and usermod", () => {
    expect(subidCheck({ subuid: [], subgid: ranges.subgid }, alice)).toEqual({
      name: "subordinate ids",
      status: "warn",
      detail: "no range for alice in /etc/subuid: containers have only your own id (chown to other ids fails inside)",
      fix: "as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice (a range no other user has)",
    });
    expect(subidCheck({ subuid: [], subgid: [] }, alice).detail).toStartWith("no range for alice in /etc/subuid or /etc/subgid:");
  });

  test("root: --userns=private's range, or why it cannot have one", () => {
    expect(subidCheck({ ...ranges, privateStart: { uid: 1073741824, gid: 1073741824, source: "default" } }, root)).toEqual({
      name: "subordinate ids",
      status: "ok",
      detail: "--userns=private: uids from 1073741824, gids from 1073741824, 65536 each (the default: no cbox entry in /etc/subuid)",
    });
    expect(subidCheck({ ...ranges, privateStart: { uid: "/etc/subuid: the cbox range holds 10 ids; --userns=private needs 65536", gid: 5, source: "entry" } }, root)).toMatchObject({
      status: "missing",
      detail: "--userns=private: /etc/subuid: the cbox range holds 10 ids; --userns=private needs 65536",
    });
  });

  test("the helpers: setuid root, file capabilities, unreadable, or neither", () => {
    expect(helperCheck({ name: "newuidmap", path: "/usr/bin/newuidmap", setuidRoot: true }, alice)).toEqual({ name: "newuidmap", status: "ok", detail: "/usr/bin/newuidmap, setuid root" });
    expect(helperCheck({ name: "newgidmap", path: "/usr/bin/newgidmap", setuidRoot: false, capabilities: "cap_setgid=ep" }, alice).status).toBe("ok");
    expect(helperCheck({ name: "newgidmap", path: "/usr/bin/newgidmap", setuidRoot: false, capabilities: "cap_setuid=ep" }, alice).status).toBe("missing");
    expect(helperCheck({ name: "newuidmap", path: "/usr/bin/newuidmap", setuidRoot: false }, alice)).toMatchObject({ status: "warn", fix: "install getcap (libcap2-bin) to check it, or as root: chmod u+s /usr/bin/newuidmap" });
    expect(helperCheck({ name: "newuidmap", path: "/usr/bin/newuidmap", setuidRoot: false, capabilities: "" }, alice)).toEqual({
      name: "newuidmap",
      status: "missing",
      detail: "/usr/bin/newuidmap is neither setuid root nor given cap_setuid: it cannot write maps, so your containers get only their own id",
      fix: "as root: chmod u+s /usr/bin/newuidmap (or setcap cap_setuid+ep /usr/bin/newuidmap)",
    });
  });

  test("not installed: missing for a user, a warning for root", () => {
    expect(helperCheck({ name: "newuidmap", setuidRoot: false }, alice)).toEqual({
      name: "newuidmap",
      status: "missing",
      detail: "not installed: your containers get only their own id",
      fix: "apt-get install uidmap (or your distribution's uidmap/shadow-utils package)",
    });
    expect(helperCheck({ name: "newuidmap", setuidRoot: false }, root)).toMatchObject({ status: "warn", detail: "not installed: ordinary users' containers get only their own id" });
  });
});

describe("network", () => {
  const tun = { exists: true, usable: true, mode: 0o666, owner: "0:0" };
  const slirp: RootlessNetworkFacts = { slirp4netns: { path: "/usr/bin/slirp4netns", version: "1.2.0" }, tun };

  test("root: the firewall tool", () => {
    expect(networkChecks(root, { tool: { kind: "nft", path: "/usr/sbin/nft" } }, slirp)).toEqual([{ name: "firewall", status: "ok", detail: "nft (/usr/sbin/nft): NAT and -p through table ip cbox" }]);
    expect(networkChecks(root, { chosen: "iptables", tool: { kind: "iptables", path: "/usr/sbin/iptables", backend: "legacy" } }, slirp)[0]!.detail).toBe("iptables (/usr/sbin/iptables): NAT and -p through CBOX chains, legacy backend (CBOX_FIREWALL=iptables)");
    expect(networkChecks(root, {}, slirp)[0]).toEqual({
      name: "firewall",
      status: "warn",
      detail: "neither nft nor iptables is installed: containers get the bridge without outbound NAT, and -p is refused",
      fix: "apt-get install nftables (or iptables)",
    });
    expect(networkChecks(root, { chosen: "pf", error: "CBOX_FIREWALL=pf: expected nft, iptables or none" }, slirp)[0]!.status).toBe("warn");
  });

  test("a user: slirp4netns and /dev/net/tun", () => {
    expect(networkChecks(alice, {}, slirp)).toEqual([
      { name: "slirp4netns", status: "ok", detail: "1.2.0 (/usr/bin/slirp4netns)" },
      { name: "/dev/net/tun", status: "ok", detail: "you may open it" },
    ]);
    expect(networkChecks(alice, {}, { tun: { ...tun, usable: false, mode: 0o600 } })).toEqual([
      { name: "slirp4netns", status: "missing", detail: "not installed: containers get loopback only", fix: "apt-get install slirp4netns (or your distribution's slirp4netns package)" },
      {
        name: "/dev/net/tun",
        status: "missing",
        detail: "mode 0600, owner 0:0: not open to you, so slirp4netns cannot give containers a network (loopback only)",
        fix: 'as root: chmod 0666 /dev/net/tun (most distributions ship it so; a udev rule KERNEL=="tun", MODE="0666" keeps it)',
      },
    ]);
    expect(networkChecks(alice, {}, { tun: { exists: false, usable: false } })[1]!.fix).toBe("as root: modprobe tun (and mknod /dev/net/tun c 10 200 if it is still missing)");
  });

  test("CBOX_ROOTLESS_NETWORK: none is a choice; anything else is refused by cbox run", () => {
    expect(networkChecks(alice, {}, { ...slirp, chosen: "none" })).toEqual([{ name: "slirp4netns", status: "ok", detail: "not used: CBOX_ROOTLESS_NETWORK=none gives containers loopback only" }]);
    expect(networkChecks(alice, {}, { ...slirp, chosen: "pasta" })[0]!.status).toBe("warn");
  });
});

describe("seccomp", () => {
  const actions = ["kill_process", "errno", "allow"];
  test("filter mode with errno and allow", () => {
    expect(seccompCheck({ mode: 0, actions })).toEqual({ name: "seccomp", status: "ok", detail: "filters with kill_process errno allow" });
    expect(seccompCheck({ mode: 2, actions }).detail).toBe("filters with kill_process errno allow; cbox itself runs under a filter (a container runtime's?), which containers inherit");
  });
  test("no seccomp, no filter mode, or no errno action: missing", () => {
    const fix = "a kernel built with CONFIG_SECCOMP_FILTER, or run containers with --security-opt seccomp=unconfined";
    expect(seccompCheck({})).toEqual({ name: "seccomp", status: "missing", detail: "the kernel has none (no Seccomp: in /proc/self/status): containers cannot get their filter", fix });
    expect(seccompCheck({ mode: 0 }).detail).toBe("no filter mode (/proc/sys/kernel/seccomp/actions_avail): containers cannot get their filter");
    expect(seccompCheck({ mode: 0, actions: ["kill_process", "allow"] }).detail).toBe("no filter mode with errno (/proc/sys/kernel/seccomp/actions_avail): containers cannot get their filter");
  });
});

describe("storage", () => {
  const base: StorageFacts = {
    root: "/var/lib/cbox",
    kind: "folder",
    writable: true,
    nearest: "/var/lib/cbox",
    mount: { mountPoint: "/", fstype: "ext4", source: "/dev/vda" },
    freeBytes: 82_800_000_000,
    runtime: { path: "/run/cbox", exists: false, foreign: false },
  };

  test("where, on what, how much room", () => {
    expect(storageCheck(base)).toEqual({ name: "storage root", status: "ok", detail: "/var/lib/cbox on ext4 (/dev/vda on /), 82.8 GB free" });
    expect(storageCheck({ ...base, kind: "none", nearest: "/var/lib" }).detail).toBe("/var/lib/cbox (not made yet: the first pull or run makes it) on ext4 (/dev/vda on /), 82.8 GB free");
    expect(storageCheck({ ...base, freeBytes: 300_000_000 })).toMatchObject({ status: "warn", detail: "/var/lib/cbox on ext4 (/dev/vda on /), 300.0 MB free: little room for images and containers" });
  });

  test("a file, a folder not ours, a folder we cannot make", () => {
    expect(storageCheck({ ...base, kind: "other" })).toEqual({ name: "storage root", status: "missing", detail: "/var/lib/cbox is not a folder", fix: "give --root (or CBOX_ROOT) a folder" });
    expect(storageCheck({ ...base, writable: false }).detail).toBe("/var/lib/cbox on ext4 (/dev/vda on /), 82.8 GB free: not writable by you");
    expect(storageCheck({ ...base, kind: "none", nearest: "/srv", writable: false })).toMatchObject({ status: "missing", detail: "/var/lib/cbox on ext4 (/dev/vda on /), 82.8 GB free: cannot be made: /srv is not writable by you" });
  });

  test("the runtime folder, and XDG_RUNTIME_DIR where delegation needs it", () => {
    expect(runtimeCheck(base.runtime, root, true)).toEqual({ name: "runtime folder", status: "ok", detail: "/run/cbox (absent)" });
    const unset = { path: "/tmp/cbox-1000", exists: false, foreign: false, xdgRuntimeDir: "" };
    expect(runtimeCheck(unset, alice, true)).toEqual({
      name: "runtime folder",
      status: "warn",
      detail: "/tmp/cbox-1000 (absent): XDG_RUNTIME_DIR is not set, and systemd-run --user (cgroup delegation) needs it",
      fix: "log in through a session (ssh, login), or export XDG_RUNTIME_DIR=/run/user/1000",
    });
    expect(runtimeCheck(unset, alice, false)).toEqual({ name: "runtime folder", status: "ok", detail: "/tmp/cbox-1000 (absent); XDG_RUNTIME_DIR is not set" });
    expect(runtimeCheck({ ...unset, exists: true, foreign: true }, alice, false)).toMatchObject({ status: "missing", detail: "/tmp/cbox-1000 belongs to another user" });
  });
});
