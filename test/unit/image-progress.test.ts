import { describe, expect, test } from "bun:test";
import { barLine, createProgress, formatBytes } from "../../src/image/progress.ts";

describe("formatBytes", () => {
  test("bytes below 1000 as they are", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1)).toBe("1 B");
    expect(formatBytes(999)).toBe("999 B");
  });
  test("decimal units with one decimal", () => {
    expect(formatBytes(1000)).toBe("1.0 kB");
    expect(formatBytes(1500)).toBe("1.5 kB");
    expect(formatBytes(3_600_000)).toBe("3.6 MB");
    expect(formatBytes(3_625_026)).toBe("3.6 MB");
    expect(formatBytes(2_000_000_000)).toBe("2.0 GB");
    expect(formatBytes(7e12)).toBe("7.0 TB");
  });
  test("TB is the largest unit", () => {
    expect(formatBytes(5e15)).toBe("5000.0 TB");
  });

  // Values that round up to 1000 of a unit move to the next unit; rates are whole bytes.
  test("no 1000.0 of a unit, no fractional bytes", () => {
    expect(formatBytes(999_999)).toBe("1.0 MB");
    expect(formatBytes(833.3333333333334)).toBe("833 B");
  });
});

describe("barLine", () => {
  test("a third done: bar, sizes, rate and time left", () => {
    expect(barLine("pull", 1_200_000, 3_600_000, 1000)).toBe("pull [=======>                ] 1.2 MB/3.6 MB 1.2 MB/s 2s left");
  });
  test("nothing done yet: empty bar, no time left known", () => {
    expect(barLine("pull", 0, 3_600_000, 500)).toBe("pull [                        ] 0 B/3.6 MB 0 B/s -- left");
  });
  test("no time elapsed: rate 0", () => {
    expect(barLine("x", 0, 1000, 0)).toBe("x [                        ] 0 B/1.0 kB 0 B/s -- left");
  });
  test("done (or over): a full bar ending in >, 0s left", () => {
    expect(barLine("pull", 3_600_000, 3_600_000, 2000)).toBe(`pull [${"=".repeat(23)}>] 3.6 MB/3.6 MB 1.8 MB/s 0s left`);
    expect(barLine("pull", 4_000_000, 3_600_000, 2000)).toStartWith(`pull [${"=".repeat(23)}>] 4.0 MB/3.6 MB`);
  });
  test("minutes left, and a given width", () => {
    expect(barLine("a", 100_000, 10_000_000, 1000, 10)).toBe("a [          ] 100.0 kB/10.0 MB 100.0 kB/s 1m39s left");
    expect(barLine("a", 5_000_000, 10_000_000, 1000, 10)).toBe("a [====>     ] 5.0 MB/10.0 MB 5.0 MB/s 1s left");
  });
  test("without a total: only the bytes and the rate", () => {
    expect(barLine("pull", 2_400_000, undefined, 2000)).toBe("pull 2.4 MB 1.2 MB/s");
    expect(barLine("pull", 2_400_000, 0, 2000)).toBe("pull 2.4 MB 1.2 MB/s");
    expect(barLine("pull", 0, undefined, 0)).toBe("pull 0 B 0 B/s");
  });

  // Seconds are rounded up before minutes are split off (119.5 s is 2m00s, not 1m60s).
  test("no 60 in the seconds of a time left", () => {
    // 1000 B/s, 119_500 B to go: 119.5 s left
    expect(barLine("p", 1000, 120_500, 1000)).toEndWith(" 2m00s left");
  });
});

function fakeOut() {
  const writes: string[] = [];
  return { writes, out: { write: (s: string) => writes.push(s) } };
}

describe("createProgress", () => {
  test("lines: a start line with the size, an end line with bytes and seconds", () => {
    const { writes, out } = fakeOut();
    const p = createProgress("lines", out, "alpine:3.20", 3_600_000);
    expect(writes).toEqual(["alpine:3.20: downloading 3.6 MB\n"]);
    p.advance(1_000_000);
    p.advance(2_600_000);
    expect(writes).toHaveLength(1); // no line per chunk
    p.finish();
    expect(writes).toHaveLength(2);
    expect(writes[1]).toMatch(/^alpine:3\.20: 3\.6 MB in \d+\.\ds\n$/);
  });

  test("lines without a total: no size in the start line", () => {
    const { writes, out } = fakeOut();
    createProgress("lines", out, "x").finish();
    expect(writes[0]).toBe("x: downloading\n");
    expect(writes[1]).toMatch(/^x: 0 B in \d+\.\ds\n$/);
  });

  test("quiet writes nothing", () => {
    const { writes, out } = fakeOut();
    const p = createProgress("quiet", out, "x", 100);
    p.advance(50);
    p.advance(50);
    p.finish();
    expect(writes).toEqual([]);
  });

  // The first draw comes once 100 ms have passed since the last one (at first: since the process
  // started, as performance.now() counts); the sleeps make that certain.
  test("bar: redraws over the line with \\r at most every 100 ms and ends with a newline", async () => {
    const { writes, out } = fakeOut();
    const p = createProgress("bar", out, "pull", 1000);
    expect(writes).toEqual([]); // nothing before the first bytes
    await Bun.sleep(110);
    p.advance(400);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toStartWith("\r\x1b[Kpull [");
    expect(writes[0]).toContain("400 B/1.0 kB");
    expect(writes[0]).not.toContain("\n");
    p.advance(100); // within 100 ms of the last draw: not redrawn
    expect(writes).toHaveLength(1);
    await Bun.sleep(110);
    p.advance(100);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toStartWith("\r\x1b[Kpull [");
    expect(writes[1]).toContain("600 B/1.0 kB");
    p.finish();
    expect(writes).toHaveLength(3);
    expect(writes[2]).toStartWith("\r\x1b[Kpull [");
    expect(writes[2]).toContain("600 B/1.0 kB");
    expect(writes[2]).toEndWith(" left\n");
    expect(writes.slice(0, 2).join("")).not.toContain("\n");
  });

  test("bar without a total: the end line shows a full bar of what came", async () => {
    const { writes, out } = fakeOut();
    const p = createProgress("bar", out, "pull");
    await Bun.sleep(110);
    p.advance(2000);
    expect(writes[0]).toMatch(/^\r\x1b\[Kpull 2\.0 kB \S+ \S*B\/s$/);
    p.finish();
    expect(writes.at(-1)).toStartWith(`\r\x1b[Kpull [${"=".repeat(23)}>] 2.0 kB/2.0 kB `);
    expect(writes.at(-1)).toEndWith("\n");
  });
});
