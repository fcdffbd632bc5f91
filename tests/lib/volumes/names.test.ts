import { describe, expect, test } from "bun:test";
import { isValidVolumeName, MAX_NAME_LENGTH, newAnonymousName, validateVolumeName, volumeLockPath } from "../../../lib/volumes/names.ts";

describe("volume names", () => {
  test("Docker's local driver rules: [a-zA-Z0-9][a-zA-Z0-9_.-]+", () => {
    for (const ok of ["data", "ab", "my_vol", "v1.2-x", "0abc", "A.B"]) expect(isValidVolumeName(ok)).toBe(true);
    for (const bad of ["", "a", ".hidden", "-x", "_x", "a/b", "a b", "x:y", "/abs", "..", "ü-vol"]) expect(isValidVolumeName(bad)).toBe(false);
  });

  test("names that could not be file names are refused", () => {
    expect(isValidVolumeName("a".repeat(MAX_NAME_LENGTH))).toBe(true);
    expect(isValidVolumeName("a".repeat(MAX_NAME_LENGTH + 1))).toBe(false);
    expect(() => validateVolumeName("a".repeat(300))).toThrow(/longer than/);
  });

  test("the error says what is allowed, like Docker's", () => {
    expect(() => validateVolumeName("a/b")).toThrow('create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed');
    try {
      validateVolumeName("x");
    } catch (e) {
      expect((e as { kind: string }).kind).toBe("InvalidArgument");
    }
  });

  test("anonymous names are 64 hex digits and valid names", () => {
    const n = newAnonymousName();
    expect(n).toMatch(/^[a-f0-9]{64}$/);
    expect(isValidVolumeName(n)).toBe(true);
    expect(newAnonymousName()).not.toBe(n);
  });

  test("lock files are per name and short", () => {
    const a = volumeLockPath("/locks", "a".repeat(200));
    expect(a).toMatch(/^\/locks\/volume-[a-f0-9]{24}\.lock$/);
    expect(volumeLockPath("/locks", "x1")).not.toBe(volumeLockPath("/locks", "x2"));
  });
});
