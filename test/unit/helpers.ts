import { expect } from "bun:test";
import { CboxError } from "../../src/errors.ts";

/** The CboxError fn throws; fails the test when it throws nothing or something else. */
export function thrown(fn: () => unknown): CboxError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CboxError);
    return err as CboxError;
  }
  throw new Error("expected a throw");
}

/**
 * Set when these tests run in qemu's user-mode emulation (test/integration/arm64-user.test.ts):
 * qemu refuses clone with namespace flags, so a test that starts a process in namespaces cannot
 * run there; the arm64 test server runs it on a real arm64 kernel instead.
 */
export const underQemuUser = process.env.CBOX_TEST_QEMU_USER === "1";
