// The C shim as built for the CPU running these tests (npm test runs them on x86_64, and again on
// arm64 under qemu-user: test/integration/arm64-user.test.ts): every symbol TypeScript binds is
// in it, and the fallback that holds it when there is no memfd works.
import { afterEach, expect, test } from "bun:test";
import { closeSync, readFileSync, readlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { detachShim, deviceShim, extraShim, netShim, openUnnamedFile, shim } from "../../src/sys/shim.ts";

test("every group of the shim's functions binds from the library built for this CPU", () => {
  const groups = { shim: shim(), detachShim: detachShim(), extraShim: extraShim(), deviceShim: deviceShim(), netShim: netShim() };
  for (const [group, symbols] of Object.entries(groups)) {
    for (const [name, fn] of Object.entries(symbols as Record<string, unknown>)) expect(typeof fn, `${group}.${name}`).toBe("function");
  }
  // One library per process: each group comes from the same unnamed file.
  const mapped = readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => /memfd:cbox-shim|\/#\d+ \(deleted\)/.test(l));
  expect(new Set(mapped.map((l) => l.split(/\s+/).slice(5).join(" "))).size).toBe(1);
});

let fd: number | undefined;
afterEach(() => {
  if (fd !== undefined) closeSync(fd);
  fd = undefined;
});

test("openUnnamedFile: an O_TMPFILE in a folder, with this CPU's flag values (x86_64's fail on arm64)", () => {
  fd = openUnnamedFile(tmpdir());
  expect(writeSync(fd, "shim")).toBe(4);
  // An unnamed file: the kernel names it /dir/#inode, deleted from the start.
  expect(readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/\/#\d+ \(deleted\)$/);
});
