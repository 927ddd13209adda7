import { describe, expect, test } from "bun:test";
import { DEFAULT_PRIVATE_START, formatMap, hostIdOfRoot, privateMaps, privateRangeStart, rootlessMaps, setgroupsAllowed, subordinateRanges } from "../../src/linux/userns.ts";

const helpers = { newuidmap: "/usr/bin/newuidmap", newgidmap: "/usr/bin/newgidmap" };

describe("subordinateRanges", () => {
  const text = [
    "alice:100000:65536",
    "bob:200000:65536",
    "1000:300000:1000",
    "  alice:400000:10  ",
    "alice:500000:0",
    "alice:600000",
    "alice:x:10",
    "alice:700000:10:extra",
    "# alice:800000:10",
    "",
  ].join("\n");

  test("matches by name and by numeric id, in file order", () => {
    expect(subordinateRanges(text, "alice", 1000)).toEqual([
      { start: 100000, count: 65536 },
      { start: 300000, count: 1000 },
      { start: 400000, count: 10 },
    ]);
  });

  test("ignores other users", () => {
    expect(subordinateRanges(text, "bob", 1001)).toEqual([{ start: 200000, count: 65536 }]);
    expect(subordinateRanges(text, "carol", 1002)).toEqual([]);
  });

  test("ignores malformed lines and zero counts", () => {
    expect(subordinateRanges("alice:5:0\nalice:a:b\nalice:1\nalice:1:2:3\n", "alice", 1)).toEqual([]);
  });

  test("empty text gives no ranges", () => {
    expect(subordinateRanges("", "alice", 1000)).toEqual([]);
  });
});

describe("rootlessMaps", () => {
  const sub = [{ start: 100000, count: 65536 }];
  const subg = [{ start: 200000, count: 1000 }];

  test("without helpers: only the user's own id as 0, and why", () => {
    expect(rootlessMaps(1000, 1001, sub, subg)).toEqual({
      uid: [{ inside: 0, outside: 1000, count: 1 }],
      gid: [{ inside: 0, outside: 1001, count: 1 }],
      ownIdOnly: { missing: "helpers" },
    });
  });

  test("with helpers but no ranges: only the own id, no helpers", () => {
    const maps = rootlessMaps(1000, 1001, [], subg, helpers, "alice");
    expect(maps).toEqual({
      uid: [{ inside: 0, outside: 1000, count: 1 }],
      gid: [{ inside: 0, outside: 1001, count: 1 }],
      ownIdOnly: { missing: "subuid", user: "alice" },
    });
    expect(maps.helpers).toBeUndefined();
    const noSubgid = rootlessMaps(1000, 1001, sub, [], helpers, "alice");
    expect(noSubgid.helpers).toBeUndefined();
    expect(noSubgid.ownIdOnly).toEqual({ missing: "subgid", user: "alice" });
  });

  test("with helpers and ranges: own id as 0, then the first range from 1", () => {
    const more = [...sub, { start: 900000, count: 5 }];
    expect(rootlessMaps(1000, 1001, more, subg, helpers)).toEqual({
      uid: [
        { inside: 0, outside: 1000, count: 1 },
        { inside: 1, outside: 100000, count: 65536 },
      ],
      gid: [
        { inside: 0, outside: 1001, count: 1 },
        { inside: 1, outside: 200000, count: 1000 },
      ],
      helpers,
    });
  });
});

describe("formatMap", () => {
  test("one `inside outside count` line per range, newline-terminated", () => {
    expect(
      formatMap([
        { inside: 0, outside: 1000, count: 1 },
        { inside: 1, outside: 100000, count: 65536 },
      ]),
    ).toBe("0 1000 1\n1 100000 65536\n");
  });
});

describe("setgroupsAllowed", () => {
  test("allowed without a user namespace and with helpers; denied when we write the maps", () => {
    expect(setgroupsAllowed(undefined)).toBe(true);
    expect(setgroupsAllowed(rootlessMaps(1000, 1000, [{ start: 1, count: 1 }], [{ start: 1, count: 1 }], helpers))).toBe(true);
    expect(setgroupsAllowed(rootlessMaps(1000, 1000, [], []))).toBe(false);
  });
});

describe("--userns=private ranges", () => {
  test("the cbox entry wins, cut to 65536 ids", () => {
    expect(privateRangeStart("alice:100000:65536\ncbox:300000:131072\n", "5000000", "/etc/subuid")).toBe(300000);
  });

  test("a cbox entry too small is refused, naming the file", () => {
    expect(privateRangeStart("cbox:300000:1000\n", undefined, "/etc/subgid")).toBe("/etc/subgid: the cbox range holds 1000 ids; --userns=private needs 65536");
  });

  test("without an entry: CBOX_USERNS_START, else the built-in start", () => {
    expect(privateRangeStart("alice:100000:65536\n", undefined, "/etc/subuid")).toBe(DEFAULT_PRIVATE_START);
    expect(privateRangeStart("", "2000000", "/etc/subuid")).toBe(2000000);
    for (const bad of ["0", "-5", "x", "4294967295", "1.5"]) {
      expect(privateRangeStart("", bad, "/etc/subuid")).toBe(`CBOX_USERNS_START=${bad}: expected a number from 1 that leaves room for 65536 ids`);
    }
  });

  test("maps 0..65535 onto the starts, written by root with setgroups left allowed", () => {
    const maps = privateMaps(300000, 400000);
    expect(maps.uid).toEqual([{ inside: 0, outside: 300000, count: 65536 }]);
    expect(maps.gid).toEqual([{ inside: 0, outside: 400000, count: 65536 }]);
    expect(setgroupsAllowed(maps)).toBe(true);
    expect(hostIdOfRoot(maps.uid)).toBe(300000);
  });
});
