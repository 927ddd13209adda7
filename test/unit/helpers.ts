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
