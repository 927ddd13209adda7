// A stored layer folder back into a layer tar, as registries hold them: overlayfs' whiteouts
// (0/0 character devices) become `.wh.NAME` files, opaque folders get `.wh..wh..opq`, files
// with several names are written once and hard-linked after. Sorted, so the same folder gives
// the same bytes.
import { lstatSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { isWhiteout } from "./layers.ts";
import { addEntry, HardLinks } from "./tar-entry.ts";
import type { TarWriter } from "./tar-writer.ts";

/**
 * Writes the folder's tree into tar. `opaque`: folders (relative) to mark opaque. Files owned by
 * `userAsRoot` (an ordinary user's layers: theirs, 0 inside) are written as root's.
 */
export async function writeLayerTar(tar: TarWriter, dir: string, opts: { opaque: string[]; userAsRoot?: number }): Promise<void> {
  const opaque = new Set(opts.opaque);
  const links = new HardLinks();
  const owner = (st: Stats) => (opts.userAsRoot !== undefined && st.uid === opts.userAsRoot ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid });
  const walk = async (rel: string): Promise<void> => {
    for (const name of readdirSync(rel ? join(dir, rel) : dir).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, path));
      if (isWhiteout(st)) {
        await tar.add({ name: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, mode: 0, mtime: st.mtime, ...owner(st), type: "file" }, "");
        continue;
      }
      const from = { linkTarget: () => readlinkSync(join(dir, path)), openContent: () => ({ path: join(dir, path), close: () => {} }) };
      await addEntry(tar, path, st, from, links, owner(st));
      if (!st.isDirectory()) continue;
      if (opaque.has(path)) await tar.add({ name: `${path}/.wh..wh..opq`, mode: 0, mtime: st.mtime, uid: 0, gid: 0, type: "file" }, "");
      await walk(path);
    }
  };
  await walk("");
}
