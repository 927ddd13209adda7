// `cbox export`: a container's whole file system as one tar, as its overlay shows it (the image's
// layers, what the container wrote over them, its deletions applied), owners as inside it. Its
// volumes and the kernel's file systems are not part of it, as with docker.
import { addEntry, HardLinks } from "../../image/tar-entry.ts";
import { TarWriter } from "../../image/tar-writer.ts";
import type { Paths } from "../../paths.ts";
import { openContainerLayers, type ContainerLayers } from "./container-layers.ts";
import { LayerStack, type Folder } from "./layer-stack.ts";
import { sourceAt } from "./root-folder.ts";

export async function exportContainer(paths: Paths, ref: string, sink: (chunk: Uint8Array) => void): Promise<void> {
  const layers = openContainerLayers(paths, ref);
  try {
    const stack = new LayerStack([layers.upper, ...layers.lowers], layers.opaqueXattr);
    try {
      const tar = new TarWriter(sink);
      await writeFolder(stack, stack.root(), "", tar, layers, new HardLinks());
      await tar.finish();
    } finally {
      stack.close();
    }
  } finally {
    layers.release();
  }
}

async function writeFolder(stack: LayerStack, folder: Folder, path: string, tar: TarWriter, layers: ContainerLayers, links: HardLinks): Promise<void> {
  for (const [name, entry] of stack.list(folder)) {
    if (entry.whiteout) continue;
    const at = path ? `${path}/${name}` : name;
    await addEntry(tar, at, entry.st, sourceAt(entry.at, "in the container"), links, layers.owner(entry.layer, entry.st));
    if (!entry.st.isDirectory()) continue;
    const child = stack.open(entry, folder);
    try {
      await writeFolder(stack, child, at, tar, layers, links);
    } finally {
      stack.closeFolder(child);
    }
  }
}
