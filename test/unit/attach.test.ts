import { describe, expect, test } from "bun:test";
import { parseAttachStreams } from "../../src/container/attach.ts";
import { parseDetachKeys } from "../../src/container/detach-keys.ts";
import { CboxError } from "../../src/errors.ts";

describe("--detach-keys", () => {
  test("docker's default is Ctrl-P Ctrl-Q, also for an empty value", () => {
    expect([...parseDetachKeys(undefined)]).toEqual([0x10, 0x11]);
    expect([...parseDetachKeys("")]).toEqual([0x10, 0x11]);
  });

  test("characters and ctrl- keys, comma-separated; ctrl- takes a letter in either case and @ [ \\ ] ^ _", () => {
    expect([...parseDetachKeys("ctrl-a,x,ctrl-Z")]).toEqual([1, 0x78, 26]);
    expect([...parseDetachKeys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_")]).toEqual([0, 27, 28, 29, 30, 31]);
  });

  test("anything else is refused in one line naming the key", () => {
    expect(() => parseDetachKeys("ctrl-1")).toThrow(new CboxError('--detach-keys "ctrl-1": "ctrl-1" is not a key; give characters or ctrl-X (X: a-z, @, [, \\, ], ^ or _), comma-separated'));
    expect(() => parseDetachKeys("ctrl-p,,ab")).toThrow('"" is not a key');
    expect(() => parseDetachKeys("é")).toThrow('"é" is not a key');
    expect(() => parseDetachKeys(Array(33).fill("a").join(","))).toThrow("--detach-keys: at most 32 keys");
  });
});

describe("run's -a", () => {
  test("none: stdout and stderr, and stdin with -i", () => {
    expect(parseAttachStreams(undefined, false)).toEqual({ stdin: false, stdout: true, stderr: true });
    expect(parseAttachStreams([], true)).toEqual({ stdin: true, stdout: true, stderr: true });
  });

  test("only the streams named, in any case; -i alone does not attach stdin then", () => {
    expect(parseAttachStreams(["STDOUT"], true)).toEqual({ stdin: false, stdout: true, stderr: false });
    expect(parseAttachStreams(["stderr", "Stdin"], true)).toEqual({ stdin: true, stdout: false, stderr: true });
  });

  test("an unknown stream, or STDIN without -i, is refused", () => {
    expect(() => parseAttachStreams(["stdout", "log"], false)).toThrow(new CboxError('--attach "log": expected STDIN, STDOUT or STDERR'));
    expect(() => parseAttachStreams(["STDIN"], false)).toThrow(new CboxError("--attach STDIN needs -i: without it the container's stdin is /dev/null"));
  });
});
