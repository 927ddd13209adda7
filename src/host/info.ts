// `cbox info`: reads the host's facts, runs the probes (each in namespaces of its own, leaving
// nothing behind), and turns them into checks. Never writes into the store.
import { containerStates } from "../container/ps.ts";
import { active } from "../container/status.ts";
import { listImageIds, readImage } from "../image/store.ts";
import { iptablesBackend } from "../linux/firewall/common.ts";
import { rootlessMaps, userName } from "../linux/userns.ts";
import { storagePaths, type Paths } from "../paths.ts";
import { commit, version } from "../version.ts";
import type { Caller, Check } from "./check.ts";
import { cgroupChecks, layoutName, readCgroups, type CgroupFacts } from "./cgroups.ts";
import { hostFiles, type HostFiles } from "./files.ts";
import { helperCheck, readHelpers, readSubids, subidCheck } from "./idmap-tools.ts";
import { idmappedCheck, type IdmappedFacts } from "./idmapped.ts";
import { probeIdmapped } from "./idmapped-probe.ts";
import { kernelAtLeast, kernelCheck, readKernel, type KernelFacts } from "./kernel.ts";
import { probeMaps } from "./maps-probe.ts";
import { networkChecks, parseSlirpVersion, readFirewall, readRootlessNetwork } from "./network.ts";
import { overlayCheck, overlayUsernsCheck, readOverlay, type OverlayProbe } from "./overlay.ts";
import { probeOverlay } from "./overlay-probe.ts";
import { readSeccomp, seccompCheck } from "./seccomp.ts";
import { filesystemText, mountAt, mountsBelow, readStorage, runtimeCheck, storageCheck, type StorageFacts } from "./storage.ts";
import { readUserns, usernsChecks } from "./userns.ts";

export interface HostInfo {
  version: string;
  /** The commit the executable was built from ("unknown" when run from the sources). */
  commit: string;
  host: { hostname: string; os: string };
  user: Caller;
  kernel: KernelFacts;
  checks: Check[];
  cgroups: { layout: ReturnType<typeof layoutName>; unified?: string; controllers?: string[]; own?: string; delegated?: { dir: string; controllers: string[] } };
  storage: StorageSummary;
  containers: { running: number; stopped: number };
  images: number;
}

export interface StorageSummary {
  root: string;
  exists: boolean;
  filesystem?: string;
  mountPoint?: string;
  freeBytes?: number;
  runtime: string;
  runtimeExists: boolean;
}

export function gatherInfo(rootFlag: string | undefined, env: Record<string, string | undefined>): HostInfo {
  const files = hostFiles("", env);
  const uid = process.getuid!();
  const caller: Caller = { uid, gid: process.getgid!(), name: userName(uid, files.read("/etc/passwd") ?? ""), root: uid === 0 };
  const paths = storagePaths(rootFlag);

  const kernel = readKernel(files);
  const userns = readUserns(files);
  const overlay = readOverlay(files, kernel.release); // before the probe loads the module
  const cgroups = readCgroups(files, caller);
  const subids = readSubids(files, caller, env);
  const helpers = readHelpers(files, getcap(files));
  const firewall = readFirewall(files, env, iptablesBackend);
  const rootlessNet = readRootlessNetwork(files, env, slirpVersion);
  const seccomp = readSeccomp(files);
  const storage = readStorage(files, paths.root, env, caller);

  const mountinfo = files.read("/proc/self/mountinfo") ?? "";
  let overlayProbe: OverlayProbe | undefined;
  if (overlay.listed || overlay.module) {
    const where = storage.kind === "folder" && storage.writable ? paths.root : env.TMPDIR || "/tmp";
    overlayProbe = probeOverlay(where, filesystemText(mountAt(files, where)), caller);
    userns.created = overlayProbe.failed?.step === "clone" ? overlayProbe.failed.reason : true;
  }
  const [newuidmap, newgidmap] = helpers;
  if (!caller.root && subids.subuid.length && subids.subgid.length && newuidmap!.path && newgidmap!.path) {
    subids.mapped = probeMaps(rootlessMaps(uid, caller.gid, subids.subuid, subids.subgid, { newuidmap: newuidmap!.path, newgidmap: newgidmap!.path }));
  }
  const idmapped = idmappedFacts(kernel, storage, mountinfo, caller);

  const checks: Check[] = [
    kernelCheck(kernel),
    ...usernsChecks(userns, caller),
    overlayCheck(overlay),
    overlayUsernsCheck(overlayProbe, caller),
    idmappedCheck(idmapped, caller),
    ...cgroupChecks(cgroups, caller),
    subidCheck(subids, caller),
    ...helpers.map((h) => helperCheck(h, caller)),
    ...networkChecks(caller, firewall, rootlessNet),
    seccompCheck(seccomp),
    storageCheck(storage),
    runtimeCheck(storage.runtime, caller, cgroups.layout.version === 2),
  ];
  return {
    version,
    commit,
    host: { hostname: files.read("/proc/sys/kernel/hostname")?.trim() ?? "", os: osName(files) },
    user: caller,
    kernel,
    checks,
    cgroups: cgroupSummary(cgroups),
    storage: storageSummary(storage),
    containers: containerCounts(paths),
    images: listImageIds(paths).filter((id) => readImage(paths, id)).length,
  };
}

function idmappedFacts(kernel: KernelFacts, storage: StorageFacts, mountinfo: string, caller: Caller): IdmappedFacts {
  const facts: IdmappedFacts = { release: kernel.release, path: storage.nearest, filesystem: filesystemText(storage.mount) };
  if (!caller.root || !kernelAtLeast(kernel.release, 5, 12)) return facts;
  // The copy is of the whole tree under the folder: other filesystems mounted below it (a
  // missing root's nearest folder may be /) would answer for themselves.
  const below = mountsBelow(mountinfo, storage.nearest);
  if (below.length) return { ...facts, probe: { skipped: `other filesystems are mounted below it (${below[0]}${below.length > 1 ? ", ..." : ""})` } };
  return { ...facts, probe: probeIdmapped(storage.nearest) };
}

/** Running (or starting) and stopped containers (created ones count as stopped, as docker's), read from their state files. */
function containerCounts(paths: Paths): { running: number; stopped: number } {
  const states = containerStates(paths);
  const running = states.filter(active).length;
  return { running, stopped: states.length - running };
}

function cgroupSummary(c: CgroupFacts): HostInfo["cgroups"] {
  const controllers = c.layout.version === 1 ? [...new Set(c.layout.hierarchies.flatMap((h) => h.controllers))] : c.rootControllers;
  return {
    layout: layoutName(c.layout),
    ...(c.layout.unified ? { unified: c.layout.unified } : {}),
    ...(controllers ? { controllers } : {}),
    ...(c.own ? { own: c.own } : {}),
    ...(c.delegated ? { delegated: c.delegated } : {}),
  };
}

function storageSummary(s: StorageFacts): StorageSummary {
  return {
    root: s.root,
    exists: s.kind !== "none",
    filesystem: s.mount?.fstype,
    mountPoint: s.mount?.mountPoint,
    freeBytes: s.freeBytes,
    runtime: s.runtime.path,
    runtimeExists: s.runtime.exists,
  };
}

function osName(files: HostFiles): string {
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(files.read("/etc/os-release") ?? "")?.[1] ?? "";
}

/** slirp4netns --version (a few milliseconds). */
function slirpVersion(path: string): string | undefined {
  const res = Bun.spawnSync([path, "--version"], { stdout: "pipe", stderr: "ignore" });
  return res.exitCode === 0 ? parseSlirpVersion(res.stdout.toString()) : undefined;
}

/** getcap's answer for a file, when getcap is installed. */
function getcap(files: HostFiles): (path: string) => string | undefined {
  return (path) => {
    const tool = files.which("getcap");
    if (!tool) return undefined;
    const res = Bun.spawnSync([tool, path], { stdout: "pipe", stderr: "ignore" });
    if (res.exitCode !== 0) return undefined;
    // "/usr/bin/newuidmap cap_setuid=ep" (older: "/usr/bin/newuidmap = cap_setuid+ep"); nothing when it has none.
    return res.stdout.toString().trim().slice(path.length).replace(/^\s*=?\s*/, "");
  };
}
