import { describe, expect, test } from "bun:test";
import { ownProcsFile } from "../../src/linux/cgroups/attach-warmup.ts";
import type { CgroupLayout } from "../../src/linux/cgroups/detect.ts";

const PROC_V1 = ["12:pids:/user.slice/user-0.slice", "4:cpuacct,cpu:/user.slice", "1:name=systemd:/user.slice/x.scope", "0::/user.slice/x.scope", ""].join("\n");

describe("ownProcsFile: this process's own cgroup.procs, where the warm-up writes (cgroup v2)", () => {
  test("v2: the unified line under cgroup2's mount", () => {
    const v2: CgroupLayout = { version: 2, hierarchies: [], unified: "/sys/fs/cgroup" };
    expect(ownProcsFile(v2, "0::/system.slice/ssh.service\n")).toBe("/sys/fs/cgroup/system.slice/ssh.service/cgroup.procs");
    expect(ownProcsFile(v2, "0::/\n")).toBe("/sys/fs/cgroup/cgroup.procs");
  });

  test("v1 (the container moves itself in, without the lock) and no cgroups: nothing", () => {
    const v1: CgroupLayout = { version: 1, hierarchies: [{ mount: "/sys/fs/cgroup/cpu,cpuacct", controllers: ["cpu", "cpuacct"] }], unified: "/sys/fs/cgroup/unified" };
    expect(ownProcsFile(v1, PROC_V1)).toBeUndefined();
    expect(ownProcsFile({ version: 0, hierarchies: [] }, PROC_V1)).toBeUndefined();
  });
});
