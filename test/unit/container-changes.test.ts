// docker diff's list from upper-layer entries, in docker's order and with its parent rule.
import { describe, expect, test } from "bun:test";
import { Changes, withoutMountPoints, type Seen, type UpperEntry } from "../../src/container/files/changes.ts";

const folder = (mtimeMs = 1, mode = 0o40755): Seen => ({ folder: true, size: 4096, mode, mtimeMs });
const file = (size = 3): Seen => ({ folder: false, size, mode: 0o100644, mtimeMs: 5 });
const upper = (seen: Seen, extra: Partial<UpperEntry> = {}): UpperEntry => ({ ...seen, whiteout: false, opaque: false, ...extra });
const whiteout = upper({ folder: false, size: 0, mode: 0o20000, mtimeMs: 9 }, { whiteout: true });

function changes(entries: [string, UpperEntry, Seen | undefined][]): string[] {
  const c = new Changes();
  for (const [path, up, below] of entries) c.add(path, up, below);
  return c.list.map((x) => `${x.kind} ${x.path}`);
}

describe("Changes", () => {
  test("added, deleted (a whiteout) and changed paths; the parent of an added or deleted one is changed", () => {
    expect(
      changes([
        ["/etc", upper(folder(2)), folder(1)],
        ["/etc/motd", whiteout, file()],
        ["/etc/passwd", upper(file(9)), file(3)],
        ["/new", upper(folder()), undefined],
        ["/new/f", upper(file()), undefined],
      ]),
    ).toEqual(["C /etc", "D /etc/motd", "C /etc/passwd", "A /new", "A /new/f"]);
  });

  test("a folder with the same size, mode and time as below is not listed, unless a path in it was added or deleted", () => {
    expect(changes([["/var", upper(folder(1)), folder(1)], ["/var/log", upper(folder(1)), folder(1)], ["/var/log/x", upper(file(4)), file(3)]])).toEqual(["C /var/log/x"]);
    expect(changes([["/var", upper(folder(1)), folder(1)], ["/var/new", upper(file()), undefined]])).toEqual(["C /var", "A /var/new"]);
  });

  test("a parent is listed once, and / never", () => {
    expect(changes([["/a", upper(file()), undefined], ["/t", upper(folder(1)), folder(1)], ["/t/x", upper(file()), undefined], ["/t/y", whiteout, file()]])).toEqual([
      "A /a",
      "C /t",
      "A /t/x",
      "D /t/y",
    ]);
  });

  test("an opaque folder over one of the image's is deleted (docker's way); an opaque new one is added", () => {
    expect(changes([["/srv", upper(folder(3), { opaque: true }), folder(1)], ["/srv/x", upper(file()), undefined]])).toEqual(["D /srv", "A /srv/x"]);
    expect(changes([["/opt", upper(folder(3), { opaque: true }), undefined]])).toEqual(["A /opt"]);
  });
});

describe("withoutMountPoints", () => {
  const list = (lines: string[]) => lines.map((l) => ({ kind: l[0] as "A" | "C" | "D", path: l.slice(2) }));

  test("cbox's own mount points go, and a folder listed only for one of them", () => {
    expect(withoutMountPoints(list(["C /etc", "A /etc/resolv.conf", "A /proc", "A /sys", "A /dev"]))).toEqual([]);
  });

  test("a folder that holds other changes stays, as does everything else", () => {
    expect(withoutMountPoints(list(["C /etc", "D /etc/motd", "A /etc/resolv.conf", "A /data"]))).toEqual(list(["C /etc", "D /etc/motd", "A /data"]));
    expect(withoutMountPoints(list(["A /etc/hosts.allow", "C /devices"]))).toEqual(list(["A /etc/hosts.allow", "C /devices"]));
  });
});
