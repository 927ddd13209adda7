// What a container's /sys/fs/cgroup holds, read from the host's mount table: docker's layout.
// The child mounts it in its own cgroup namespace, so each mount's root is the cgroup the
// container was in when it unshared that namespace (its own one where cbox made one).
import { controllersIn, parseLayout, type CgroupLayout } from "./detect.ts";

/** One v1 hierarchy as the container gets it: a folder with a mount of that hierarchy. */
export interface V1Folder {
  /** "cpu,cpuacct", "memory", "systemd": its controllers, or its name for a named hierarchy. */
  name: string;
  /** The mount's options, which select the hierarchy: "cpu,cpuacct" or "name=systemd". */
  options: string;
  /** For a hierarchy of several controllers, one link per controller ("cpu" -> "cpu,cpuacct"). */
  links: string[];
}

export type CgroupView =
  /** No cgroups mounted on the host: /sys/fs/cgroup stays the empty sysfs folder. */
  | { version: 0 }
  /** cgroup2 on /sys/fs/cgroup itself. */
  | { version: 2 }
  /** A tmpfs on /sys/fs/cgroup, a folder per hierarchy and the links. */
  | { version: 1; folders: V1Folder[] };

/**
 * From /proc/self/mountinfo text (and its layout, when the caller has it). The v1 hierarchies
 * are the controller ones cbox's limits use and the named ones (name=systemd), as runc shows
 * them; a hybrid host's empty cgroup2 is left out, as docker leaves it.
 */
export function cgroupView(mountinfo: string, layout: CgroupLayout = parseLayout(mountinfo)): CgroupView {
  if (layout.version !== 1) return { version: layout.version };
  const folders: V1Folder[] = layout.hierarchies.map(({ controllers }) => {
    const name = controllers.join(",");
    return { name, options: name, links: controllers.length > 1 ? controllers : [] };
  });
  for (const name of namedHierarchies(mountinfo)) {
    if (!folders.some((f) => f.name === name)) folders.push({ name, options: `name=${name}`, links: [] });
  }
  // Names come from the host's kernel; only plain ones become paths.
  return { version: 1, folders: folders.filter((f) => SAFE_NAME.test(f.name)) };
}

const SAFE_NAME = /^(?!\.\.?$)[\w.,-]+$/;

/** The names of v1 hierarchies that hold no controller (a hierarchy with both is found by its controllers). */
function namedHierarchies(mountinfo: string): string[] {
  const names: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 0 || fields[3] !== "/" || fields[dash + 1] !== "cgroup") continue;
    const name = /(?:^|,)name=([^,]+)/.exec(fields[dash + 3] ?? "")?.[1];
    if (name && controllersIn(fields[dash + 3]!).length === 0 && !names.includes(name)) names.push(name);
  }
  return names;
}
