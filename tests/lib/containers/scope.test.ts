import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanInScope, hostPathOf, resolveInScope } from "../../../lib/containers/scope.ts";

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "scope-"));
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc", "passwd"), "root:x:0:0\n");
  mkdirSync(join(root, "usr", "bin"), { recursive: true });
  mkdirSync(join(root, "data", "sub"), { recursive: true });
  symlinkSync("/etc", join(root, "abs"));
  symlinkSync("usr/bin", join(root, "bin"));
  symlinkSync("../../../../../../etc", join(root, "data", "up"));
  symlinkSync("/../../..", join(root, "data", "toroot"));
  symlinkSync("sub/../../etc/passwd", join(root, "data", "pw"));
  symlinkSync("loop2", join(root, "loop1"));
  symlinkSync("loop1", join(root, "loop2"));
  symlinkSync("/nowhere/x", join(root, "dangling"));
  symlinkSync("/etc/passwd", join(root, "etc", "self"));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("resolveInScope", () => {
  test("an absolute symlink resolves to the container's path, not the host's", () => {
    expect(resolveInScope(root, "/abs/passwd")).toBe("/etc/passwd");
    expect(hostPathOf(root, resolveInScope(root, "/abs/passwd"))).toBe(join(root, "etc", "passwd"));
  });

  test("relative links resolve against their directory", () => {
    expect(resolveInScope(root, "/bin")).toBe("/usr/bin");
    expect(resolveInScope(root, "bin/sh")).toBe("/usr/bin/sh");
    expect(resolveInScope(root, "/data/pw")).toBe("/etc/passwd");
  });

  test(".. never climbs above the root, in the path or in a link", () => {
    expect(resolveInScope(root, "/../../etc/passwd")).toBe("/etc/passwd");
    expect(resolveInScope(root, "/data/up/passwd")).toBe("/etc/passwd");
    expect(resolveInScope(root, "/data/toroot")).toBe("/");
    expect(resolveInScope(root, "/data/toroot/etc")).toBe("/etc");
  });

  test("missing components are kept lexically", () => {
    expect(resolveInScope(root, "/etc/new/file")).toBe("/etc/new/file");
    expect(resolveInScope(root, "/missing/../etc")).toBe("/etc");
    expect(resolveInScope(root, "/dangling")).toBe("/nowhere/x");
    expect(resolveInScope(root, "/etc/passwd/x")).toBe("/etc/passwd/x");
  });

  test("followFinal: false keeps a link in the last component", () => {
    expect(resolveInScope(root, "/abs", { followFinal: false })).toBe("/abs");
    expect(resolveInScope(root, "/etc/self", { followFinal: false })).toBe("/etc/self");
    expect(resolveInScope(root, "/abs/self", { followFinal: false })).toBe("/etc/self");
    expect(resolveInScope(root, "/etc/self")).toBe("/etc/passwd");
  });

  test("loops are refused", () => {
    expect(() => resolveInScope(root, "/loop1")).toThrow(/too many levels of symbolic links/);
  });

  test("the root itself", () => {
    expect(resolveInScope(root, "/")).toBe("/");
    expect(resolveInScope(root, "")).toBe("/");
    expect(resolveInScope(root, ".")).toBe("/");
  });
});

describe("cleanInScope", () => {
  test("cleans to an absolute path without climbing above /", () => {
    expect(cleanInScope("etc/../tmp//x/")).toBe("/tmp/x");
    expect(cleanInScope("../../x")).toBe("/x");
    expect(cleanInScope("")).toBe("/");
  });
});
