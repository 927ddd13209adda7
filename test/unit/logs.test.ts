import { describe, expect, test } from "bun:test";
import { parseLog, parseTail, renderRecords, tailRecords, type LogRecord } from "../../src/container/logs.ts";
import { CboxError } from "../../src/errors.ts";

const T = "2026-11-23T10:00:00.123456789Z";
const rec = (stream: LogRecord["stream"], full: boolean, text: string): LogRecord => ({ time: T, stream, full, text });

describe("parseLog", () => {
  test("records in the CRI format; a record still being written is left for later", () => {
    const text = `${T} stdout F hello\n${T} stderr F oops: a b\n${T} stdout P part\n${T} stdout F`;
    expect(parseLog(text)).toEqual({
      records: [rec("stdout", true, "hello"), rec("stderr", true, "oops: a b"), rec("stdout", false, "part")],
      rest: `${T} stdout F`,
    });
  });

  test("an empty line is a record with empty text; text may hold the separators", () => {
    expect(parseLog(`${T} stdout F \n${T} stdout F a F b \n`).records).toEqual([rec("stdout", true, ""), rec("stdout", true, "a F b ")]);
  });

  test("lines not in the format are skipped", () => {
    expect(parseLog(`garbage\n${T} stdin F x\n${T} stdout F ok\n`).records).toEqual([rec("stdout", true, "ok")]);
  });
});

describe("tailRecords", () => {
  const records = [rec("stdout", true, "1"), rec("stdout", false, "2a"), rec("stdout", true, "2b"), rec("stderr", true, "3"), rec("stdout", false, "4")];

  test("counts lines, not records: P pieces belong to the line their F ends; an unfinished last line counts", () => {
    expect(tailRecords(records, 1)).toEqual([rec("stdout", false, "4")]);
    expect(tailRecords(records, 2)).toEqual(records.slice(3));
    expect(tailRecords(records, 3)).toEqual(records.slice(1));
    expect(tailRecords(records, 4)).toEqual(records);
    expect(tailRecords(records, 100)).toEqual(records);
    expect(tailRecords(records, 0)).toEqual([]);
  });
});

describe("renderRecords", () => {
  test("stdout to fd 1 and stderr to fd 2; P pieces joined without a newline", () => {
    const out = renderRecords([rec("stdout", false, "par"), rec("stdout", true, "tial"), rec("stderr", true, "e")], false, { stdout: true, stderr: true });
    expect(out).toEqual([
      { fd: 1, text: "par" },
      { fd: 1, text: "tial\n" },
      { fd: 2, text: "e\n" },
    ]);
  });

  test("-t: the time starts each line, not each piece; a line begun in an earlier read is not stamped again", () => {
    const start = { stdout: true, stderr: true };
    expect(renderRecords([rec("stdout", false, "a")], true, start)).toEqual([{ fd: 1, text: `${T} a` }]);
    expect(renderRecords([rec("stdout", true, "b"), rec("stdout", true, "c")], true, start)).toEqual([
      { fd: 1, text: "b\n" },
      { fd: 1, text: `${T} c\n` },
    ]);
  });
});

describe("parseTail", () => {
  test("a count or all", () => {
    expect(parseTail(undefined)).toBeUndefined();
    expect(parseTail("all")).toBeUndefined();
    expect(parseTail("0")).toBe(0);
    expect(parseTail("25")).toBe(25);
    for (const bad of ["-1", "x", "1.5", ""]) expect(() => parseTail(bad)).toThrow(CboxError);
  });
});
