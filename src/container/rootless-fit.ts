// What an ordinary user's container can be, given the ids its user namespace maps: refused
// before anything is made, in one line that names what is missing and how to get it, instead
// of an errno from deep inside the start (setuid: invalid argument, touch: permission denied).
import { statSync } from "node:fs";
import { join } from "node:path";
import { CboxError } from "../errors.ts";
import type { IdRange, OwnIdOnlyReason, UserMaps } from "../linux/userns.ts";

const inRanges = (id: number, ranges: IdRange[], side: "inside" | "outside") =>
  ranges.some((r) => id >= r[side] && id < r[side] + r.count);

/** The ids a map gives inside, as text: "0-65536". */
function insideIds(ranges: IdRange[]): string {
  return `0-${Math.max(...ranges.map((r) => r.inside + r.count - 1))}`;
}

/** The command that gives user a subordinate uid and gid range (also in cbox info's fixes). */
export function addRangesCommand(user: string): string {
  return `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`;
}

/** How to get more than one id inside. */
function widerMapsHint(why: OwnIdOnlyReason): string {
  switch (why.missing) {
    case "helpers":
      return "newuidmap and newgidmap are not installed (install the uidmap package)";
    case "subuid":
    case "subgid":
      return `/etc/${why.missing} has no range for ${why.user} (as root: ${addRangesCommand(why.user)})`;
  }
}

/** Refuses a uid or gid the container's user namespace does not map (-u, or the image's user). */
export function checkUserMapped(flag: string, user: { uid: number; gid: number }, maps: UserMaps): void {
  for (const [kind, id, ranges] of [["uid", user.uid, maps.uid], ["gid", user.gid, maps.gid]] as const) {
    if (inRanges(id, ranges, "inside")) continue;
    const notMapped = `${kind} ${id} (${flag}) is not mapped in your containers' user namespace`;
    throw new CboxError(
      maps.ownIdOnly
        ? `${notMapped}, which has only ${kind} 0 (you): ${widerMapsHint(maps.ownIdOnly)}; or leave out ${flag}`
        : `${notMapped}, which has ${kind}s ${insideIds(ranges)} (your /etc/sub${kind} range): use one of those, or ask for a larger range`,
    );
  }
}

/**
 * Refuses a root folder owned by an id the user namespace does not map (a root-owned --rootfs,
 * say): inside, its folders belong to nobody, so the container could write nothing there, not
 * even the files cbox makes in /etc.
 */
export function checkRootfsOwner(rootfs: string, maps: UserMaps): void {
  for (const dir of [rootfs, join(rootfs, "etc")]) {
    const owner = statSync(dir, { throwIfNoEntry: false })?.uid;
    if (owner === undefined || inRanges(owner, maps.uid, "outside")) continue;
    throw new CboxError(
      `--rootfs ${rootfs}: ${dir === rootfs ? "the folder" : "its etc folder"} belongs to uid ${owner}, which your containers cannot map, so they could not write in it; use a copy you own (cp -a as yourself, or sh rootfs/build.sh DIR, or cbox import), or run cbox as root`,
    );
  }
}
