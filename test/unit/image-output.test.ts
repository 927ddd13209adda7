import { describe, expect, test } from "bun:test";
import { humanDuration, table } from "../../src/cli/output.ts";

describe("table", () => {
  test("columns as wide as their widest cell, three spaces apart, the last one unpadded", () => {
    const out = table(
      ["A", "LONGER", "C"],
      [
        ["xx", "y", "zzz"],
        ["a", "bb", "c"],
      ],
    );
    expect(out).toBe(["A    LONGER   C", "xx   y        zzz", "a    bb       c", ""].join("\n"));
  });

  test("a long cell in the last column widens nothing", () => {
    expect(table(["K", "V"], [["k", "a very long value"]])).toBe("K   V\nk   a very long value\n");
  });

  test("a row whose last cell is empty has no trailing spaces", () => {
    expect(table(["NAME", "TAG", "ID"], [["alpine", "3.20", ""]])).toBe("NAME     TAG    ID\nalpine   3.20\n");
  });

  test("headers only", () => {
    expect(table(["REPOSITORY", "TAG"], [])).toBe("REPOSITORY   TAG\n");
  });
});

describe("humanDuration", () => {
  const s = 1000;
  const min = 60 * s;
  const h = 60 * min;
  const day = 24 * h;
  test.each([
    [0, "Less than a second"],
    [-5000, "Less than a second"],
    [400, "Less than a second"],
    [1 * s, "1 second"],
    [45 * s, "45 seconds"],
    [59 * s, "59 seconds"],
    [60 * s, "About a minute"],
    [89 * s, "About a minute"],
    [90 * s, "2 minutes"],
    [3 * min, "3 minutes"],
    [59 * min, "59 minutes"],
    [1 * h, "About an hour"],
    [5 * h, "5 hours"],
    [47 * h, "47 hours"],
    [48 * h, "2 days"],
    [3 * day, "3 days"],
    [13 * day, "13 days"],
    [3 * 7 * day, "3 weeks"],
    [90 * day, "3 months"],
    [2 * 365 * day, "2 years"],
  ])("%p ms → %p", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});
