// docker cp's rules as cbox applies them: operands, the source's name in the archive, and where
// the archive's top lands at the destination.
import { describe, expect, test } from "bun:test";
import { parseCopyOperands, placedParts, placeSource, sourceName } from "../../src/container/files/copy-rules.ts";
import { thrown } from "./helpers.ts";

describe("parseCopyOperands", () => {
  test("the operand with CONTAINER: is the container's side; its path is from / inside", () => {
    expect(parseCopyOperands(["web:/etc/hosts", "out"])).toEqual({ direction: "out", container: "web", containerPath: "/etc/hosts", hostPath: "out" });
    expect(parseCopyOperands(["files.txt", "web:tmp/x"])).toEqual({ direction: "in", container: "web", containerPath: "/tmp/x", hostPath: "files.txt" });
    expect(parseCopyOperands(["-", "3f2a:/srv"])).toMatchObject({ direction: "in", hostPath: "-" });
    expect(parseCopyOperands(["web:/var/log", "-"])).toMatchObject({ direction: "out", hostPath: "-" });
  });

  test("an absolute path, or one starting with ., is local even with a colon in it", () => {
    expect(parseCopyOperands(["/tmp/a:b", "web:/x"])).toMatchObject({ direction: "in", hostPath: "/tmp/a:b" });
    expect(parseCopyOperands(["web:/x", "./a:b"])).toMatchObject({ direction: "out", hostPath: "./a:b" });
  });

  test("bad operands are one line each", () => {
    expect(thrown(() => parseCopyOperands(["web:/x"])).message).toBe("cbox cp needs two arguments: cbox cp CONTAINER:SRC DEST, or cbox cp SRC CONTAINER:DEST");
    expect(thrown(() => parseCopyOperands(["a:/x", "b:/y"])).message).toContain("not between two containers");
    expect(thrown(() => parseCopyOperands(["a", "b"])).message).toContain("needs a container on one side");
    expect(thrown(() => parseCopyOperands([":/x", "b"])).message).toBe('cbox cp: ":/x" names no container before the ":"');
    expect(thrown(() => parseCopyOperands(["web:", "b"])).message).toBe('cbox cp: "web:" needs a path in the container after the ":"');
  });
});

describe("sourceName: the archive's first entry", () => {
  test("a path goes as its own last name; a trailing / asks for a folder", () => {
    expect(sourceName("/etc/hosts")).toEqual({ path: "/etc/hosts", top: "hosts", folderOnly: false });
    expect(sourceName("/etc/")).toEqual({ path: "/etc", top: "etc", folderOnly: true });
    expect(sourceName("dir")).toEqual({ path: "dir", top: "dir", folderOnly: false });
  });

  test("SRC/. is what the folder holds, without its own name; so is /", () => {
    expect(sourceName("/etc/.")).toEqual({ path: "/etc", top: ".", folderOnly: true });
    expect(sourceName("/etc/./")).toEqual({ path: "/etc", top: ".", folderOnly: true });
    expect(sourceName("/")).toEqual({ path: "/", top: ".", folderOnly: true });
    expect(sourceName(".")).toEqual({ path: ".", top: ".", folderOnly: true });
  });
});

describe("placeSource: docker's table", () => {
  const folder = { exists: true, folder: true };
  const file = { exists: true, folder: false };
  const none = { exists: false, folder: false };

  test("into an existing folder, under the source's name (or its contents with SRC/.)", () => {
    expect(placeSource("/srv", folder, { folder: true, top: "app" })).toEqual({ into: "folder", name: "app" });
    expect(placeSource("/srv/", folder, { folder: false, top: "a.txt" })).toEqual({ into: "folder", name: "a.txt" });
    expect(placeSource("/srv", folder, { folder: true, top: "." })).toEqual({ into: "folder", name: "." });
  });

  test("a file over a file; a new name in its parent folder", () => {
    expect(placeSource("/etc/motd", file, { folder: false, top: "motd" })).toEqual({ into: "place" });
    expect(placeSource("/srv/new", none, { folder: true, top: "app" })).toEqual({ into: "place" });
    expect(placeSource("/srv/new/", none, { folder: true, top: "." })).toEqual({ into: "place" });
    expect(placeSource("/srv/new.txt", none, { folder: false, top: "a.txt" })).toEqual({ into: "place" });
  });

  test("what docker refuses", () => {
    expect(thrown(() => placeSource("/etc/motd", file, { folder: true, top: "app" })).message).toBe("cannot copy a folder onto /etc/motd, which is not a folder");
    expect(thrown(() => placeSource("/etc/motd/", file, { folder: false, top: "a" })).message).toBe("/etc/motd/ is not a folder");
    expect(thrown(() => placeSource("/srv/new/", none, { folder: false, top: "a" })).message).toBe("/srv/new/ does not exist: a trailing / names a folder to copy into, which must exist");
  });
});

describe("placedParts", () => {
  test("the top is renamed, or dropped when its contents merge", () => {
    expect(placedParts(["etc"], "etc", "etc")).toEqual(["etc"]);
    expect(placedParts(["etc", "passwd"], "etc", "conf")).toEqual(["conf", "passwd"]);
    expect(placedParts(["etc", "passwd"], "etc", ".")).toEqual(["passwd"]);
    expect(placedParts([], ".", "dest")).toEqual(["dest"]);
    expect(placedParts(["a", "b"], ".", ".")).toEqual(["a", "b"]);
  });

  test("an entry outside the top is none", () => {
    expect(placedParts(["other", "x"], "etc", "etc")).toBeUndefined();
  });
});
