// `cbox diff`: what a container changed in its files, docker's way: A added, C changed, D deleted,
// read from its upper layer (overlayfs' whiteouts and opaque folders) next to its image's layers.
import type { Paths } from "../../paths.ts";
import { Changes, withoutMountPoints, type Change, type Seen } from "./changes.ts";
import { openContainerLayers } from "./container-layers.ts";
import { LayerStack, type Entry, type Folder } from "./layer-stack.ts";

export function containerChanges(paths: Paths, ref: string): Change[] {
  const layers = openContainerLayers(paths, ref);
  try {
    const upper = new LayerStack([layers.upper], layers.opaqueXattr);
    try {
      const image = new LayerStack(layers.lowers, layers.opaqueXattr);
      try {
        const changes = new Changes();
        walk(upper, upper.root(), image, image.root(), "", changes);
        return withoutMountPoints(changes.list);
      } finally {
        image.close();
      }
    } finally {
      upper.close();
    }
  } finally {
    layers.release(); // also when the layers cannot be opened, as export does
  }
}

/** The upper folder's entries, depth first, each next to what the image shows at its path (none below a path it does not have). */
function walk(upper: LayerStack, folder: Folder, image: LayerStack, below: Folder | undefined, path: string, changes: Changes): void {
  for (const [name, entry] of upper.list(folder)) {
    const at = `${path}/${name}`;
    const shown = below && image.find(below, name);
    changes.add(at, { ...seen(entry), whiteout: entry.whiteout, opaque: entry.st.isDirectory() && upper.isOpaque(entry.at) }, shown && seen(shown));
    if (!entry.st.isDirectory()) continue;
    const child = upper.open(entry, folder);
    const childBelow = shown?.st.isDirectory() ? image.open(shown, below!) : undefined;
    try {
      walk(upper, child, image, childBelow, at, changes);
    } finally {
      upper.closeFolder(child);
      if (childBelow) image.closeFolder(childBelow);
    }
  }
}

function seen(entry: Entry): Seen {
  return { folder: entry.st.isDirectory(), size: entry.st.size, mode: entry.st.mode, mtimeMs: entry.st.mtimeMs };
}

/** docker's lines: "C /etc". */
export function formatChanges(changes: Change[]): string {
  return changes.map((c) => `${c.kind} ${c.path}\n`).join("");
}
