import { expect } from "bun:test";
import { type ErrorKind, isSkiffError } from "../../../lib/errors.ts";

/** Asserts that `fn` throws a SkiffError of `kind` whose message contains `text`. */
export function expectError(fn: () => unknown, text: string, kind: ErrorKind = "InvalidArgument"): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error(`expected an error containing ${JSON.stringify(text)}, got none`);
  expect(isSkiffError(thrown, kind)).toBe(true);
  expect((thrown as Error).message).toContain(text);
}
