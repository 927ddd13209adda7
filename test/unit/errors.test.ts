import { describe, expect, test } from "bun:test";
import { CboxError, describeErrno, errnoName, ExitCode, systemErrorText } from "../../src/errors.ts";

describe("errno texts", () => {
  test("describeErrno gives the C library's text", () => {
    expect(describeErrno(13)).toBe("permission denied");
    expect(describeErrno(2)).toBe("no such file or directory");
    expect(describeErrno(-1)).toBe("operation not permitted");
  });

  test("errnoName gives the symbolic name, also for negative errnos", () => {
    expect(errnoName(1)).toBe("EPERM");
    expect(errnoName(-13)).toBe("EACCES");
  });

  test("an unknown errno is shown by number", () => {
    expect(errnoName(99999)).toBe("errno 99999");
    expect(describeErrno(99999)).toBe("errno 99999");
  });

  // 11 is also EWOULDBLOCK; the name shown must be EAGAIN's, with its text.
  test("errno 11 is EAGAIN, resource temporarily unavailable", () => {
    expect(errnoName(11)).toBe("EAGAIN");
    expect(describeErrno(11)).toBe("resource temporarily unavailable");
  });
});

describe("CboxError and systemErrorText", () => {
  test("CboxError exits 125 unless told", () => {
    expect(new CboxError("x").exitCode).toBe(ExitCode.cboxError);
    expect(new CboxError("x", 127).exitCode).toBe(127);
  });

  test("systemErrorText uses the errno text and path", () => {
    const err = Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: "EACCES", path: "/x" });
    expect(systemErrorText(err)).toBe("permission denied: /x");
    expect(systemErrorText(new Error("plain"))).toBe("plain");
  });
});
