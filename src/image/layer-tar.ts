// A stored layer folder back into a layer tar, as registries hold them: overlayfs' whiteouts
// (0/0 character devices) become `.wh.NAME` files, opaque folders get `.wh..wh..opq`, files
// with several names are written once and hard-linked after. Sorted, so the same folder gives
// the same bytes.
import { lstatSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { isWhiteout } from "./layers.ts";
import type { TarWriter } from "./tar-writer.ts";

const major = (rdev: number) => (rdev >> 8) & 0xfff;
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >> 12) & 0xfff00);

/**
 * Writes the folder's tree into tar. `opaque`: folders (relative) to mark opaque. Files owned by
 * `userAsRoot` (an ordinary user's layers: theirs, 0 inside) are written as root's.
 */
export async function writeLayerTar(tar: TarWriter, dir: string, opts: { opaque: string[]; userAsRoot?: number }): Promise<void> {
  const opaque = new Set(opts.opaque);
  const linked = new Map<string, string>(); // dev:ino -> the first name written
  const owner = (st: Stats) => (opts.userAsRoot !== undefined && st.uid === opts.userAsRoot ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid });
  const walk = async (rel: string): Promise<void> => {
    for (const name of readdirSync(rel ? join(dir, rel) : dir).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, path));
      const base = { name: path, mode: st.mode & 0o7777, mtime: st.mtime, ...owner(st) };
      if (st.isDirectory()) {
        await tar.add({ ...base, name: `${path}/`, type: "directory" });
        if (opaque.has(path)) await tar.add({ name: `${path}/.wh..wh..opq`, mode: 0, mtime: st.mtime, uid: 0, gid: 0, type: "file" }, "");
        await walk(path);
      } else if (isWhiteout(st)) {
        await tar.add({ ...base, name: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, mode: 0, type: "file" }, "");
      } else if (st.isSymbolicLink()) {
        await tar.add({ ...base, type: "symlink", linkname: readlinkSync(join(dir, path)) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? linked.get(key) : undefined;
        if (first) await tar.add({ ...base, type: "link", linkname: first });
        else {
          if (st.nlink > 1) linked.set(key, path);
          await tar.addFile({ ...base, type: "file", size: st.size }, join(dir, path));
        }
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await tar.add({ ...base, type: st.isCharacterDevice() ? "character-device" : "block-device", devmajor: major(st.rdev), devminor: minor(st.rdev) });
      } else if (st.isFIFO()) {
        await tar.add({ ...base, type: "fifo" });
      } // sockets are not kept in images
    }
  };
  await walk("");
}
