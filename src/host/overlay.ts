// overlayfs: every container's root is an overlay over its image. Whether the kernel has it, and
// whether it mounts in a user namespace (rootless containers and --userns=private), as the
// probe found when it tried (overlay-probe.ts).
import { missing, neededByUsers, ok, type Caller, type Check } from "./check.ts";
import type { HostFiles } from "./files.ts";

export interface OverlayFacts {
  /** Listed in /proc/filesystems: built in, or its module is loaded. */
  listed: boolean;
  /** The module's file under /lib/modules/RELEASE (modules.dep), when the kernel can load it. */
  module?: string;
}

/** What the probe did, step by step, and where. */
export interface OverlayProbe {
  /** The folder the probe's layers were made in, and that folder's filesystem. */
  where: string;
  filesystem: string;
  /** Undefined when every step worked; else the step that failed and why ("permission denied"). */
  failed?: { step: OverlayStep; reason: string };
}

export type OverlayStep = "clone" | "maps" | "private mounts" | "mount" | "copy up" | "whiteout" | "folders";

export function readOverlay(files: HostFiles, release: string): OverlayFacts {
  const listed = (files.read("/proc/filesystems") ?? "").split("\n").some((line) => line.split("\t").pop()?.trim() === "overlay");
  const dep = files.read(`/lib/modules/${release}/modules.dep`) ?? "";
  const module = /^(\S*\/overlay\.ko(?:\.\w+)?):/m.exec(dep)?.[1];
  return module ? { listed, module: `/lib/modules/${release}/${module}` } : { listed };
}

export function overlayCheck(o: OverlayFacts): Check {
  if (o.listed) return ok("overlayfs", "in /proc/filesystems");
  if (o.module) return ok("overlayfs", `a module, loaded at the first mount (${o.module})`);
  return missing("overlayfs", "not in /proc/filesystems and no overlay module in modules.dep: containers cannot get their root", "a kernel with CONFIG_OVERLAY_FS (or install its modules: modprobe overlay)");
}

const STEP_TEXT: Record<OverlayStep, string> = {
  clone: "making a user and mount namespace",
  maps: "writing the namespace's id maps",
  "private mounts": "making the namespace's mounts private",
  mount: "mounting the overlay",
  "copy up": "writing into a folder of the lower layer (copy-up)",
  whiteout: "deleting a folder of the lower layer (whiteout)",
  folders: "making the probe's folders",
};

export function overlayUsernsCheck(probe: OverlayProbe | undefined, caller: Caller): Check {
  const name = "overlay in userns";
  if (!probe) return neededByUsers(caller, name, "not tried: overlayfs is missing");
  const where = `${probe.where} on ${probe.filesystem}`;
  if (!probe.failed) return ok(name, `mounted in a new user namespace, written and deleted through, in ${where}`);
  const { step, reason } = probe.failed;
  const why = `${STEP_TEXT[step]} failed in ${where}: ${reason}`;
  const without = caller.root ? "--userns=private containers cannot run" : "containers cannot run";
  return neededByUsers(caller, name, `${why}; ${without}`, overlayFix(step, probe.filesystem));
}

function overlayFix(step: OverlayStep, filesystem: string): string {
  if (step === "clone" || step === "maps") return "see user namespaces";
  if (step === "folders") return "give --root a folder you can write";
  if (step === "private mounts" || step === "mount") {
    return `Linux 5.11 or later, no AppArmor restriction (see apparmor userns); if ${filesystem} cannot hold an overlay's upper layer, a --root on ext4, xfs or btrfs`;
  }
  return `a --root on a filesystem with user extended attributes (ext4, xfs, btrfs; not ${filesystem})`;
}
