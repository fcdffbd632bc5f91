import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeAsOwner } from "../../runtime/nsexec.ts";

describe("removeAsOwner", () => {
  test("removes a tree of our own files, opening directories left without access", () => {
    const base = mkdtempSync(join(tmpdir(), "skiff-rm-"));
    try {
      const tree = join(base, "ctr");
      mkdirSync(join(tree, "upper", "etc"), { recursive: true });
      writeFileSync(join(tree, "upper", "etc", "hosts"), "x");
      // overlayfs leaves work/work like this; a non-empty one cannot be read without opening it
      mkdirSync(join(tree, "work", "work", "inner"), { recursive: true });
      writeFileSync(join(tree, "work", "work", "inner", "f"), "x");
      chmodSync(join(tree, "work", "work"), 0o000);
      expect(removeAsOwner(tree)).toBe(true);
      expect(existsSync(tree)).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test("a missing path is already removed", () => {
    expect(removeAsOwner(join(tmpdir(), "skiff-rm-missing-", String(process.pid)))).toBe(true);
  });
});
