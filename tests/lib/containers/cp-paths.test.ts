import { describe, expect, test } from "bun:test";
import {
  archiveBase,
  assertsDirectory,
  containerAbsPath,
  parseCpArg,
  planCopy,
  renameEntry,
  splitPathDirEntry,
} from "../../../lib/containers/cp-paths.ts";

describe("parseCpArg", () => {
  test("CONTAINER:PATH", () => {
    expect(parseCpArg("web:/etc/hosts")).toEqual({ container: "web", path: "/etc/hosts" });
    expect(parseCpArg("web:tmp")).toEqual({ container: "web", path: "tmp" });
    expect(parseCpArg("web:")).toEqual({ container: "web", path: "" });
  });

  test("local paths, including ones with a colon made explicit", () => {
    expect(parseCpArg("/abs/a:b")).toEqual({ path: "/abs/a:b" });
    expect(parseCpArg("./a:b")).toEqual({ path: "./a:b" });
    expect(parseCpArg("file.txt")).toEqual({ path: "file.txt" });
    expect(parseCpArg("-")).toEqual({ path: "-" });
  });
});

describe("path helpers", () => {
  test("splitPathDirEntry", () => {
    expect(splitPathDirEntry("/a/b")).toEqual({ dir: "/a", base: "b" });
    expect(splitPathDirEntry("/a/b/")).toEqual({ dir: "/a", base: "b" });
    expect(splitPathDirEntry("/a/b/.")).toEqual({ dir: "/a/b", base: "." });
    expect(splitPathDirEntry("/")).toEqual({ dir: "/", base: "." });
    expect(splitPathDirEntry("/x")).toEqual({ dir: "/", base: "x" });
  });

  test("containerAbsPath keeps a trailing / or /.", () => {
    expect(containerAbsPath("tmp/x")).toBe("/tmp/x");
    expect(containerAbsPath("tmp/dir/.")).toBe("/tmp/dir/.");
    expect(containerAbsPath("/tmp/dir/")).toBe("/tmp/dir/");
    expect(containerAbsPath("/a/../../b")).toBe("/b");
    expect(containerAbsPath("")).toBe("/");
    expect(containerAbsPath(".")).toBe("/.");
  });

  test("archiveBase and assertsDirectory", () => {
    expect(archiveBase("/etc/")).toBe("etc");
    expect(archiveBase("/etc/.")).toBe(".");
    expect(archiveBase("/")).toBe(".");
    expect(assertsDirectory("/x/")).toBe(true);
    expect(assertsDirectory("/x/.")).toBe(true);
    expect(assertsDirectory("/x")).toBe(false);
  });
});

describe("planCopy (Docker's rules)", () => {
  const file = { isDir: false, base: "f.txt" };
  const dir = { isDir: true, base: "d" };
  const contents = { isDir: true, base: "." };

  test("into an existing directory: names kept", () => {
    expect(planCopy(file, { path: "/out", exists: true, isDir: true })).toEqual({ dir: "/out" });
    expect(planCopy(dir, { path: "/out", exists: true, isDir: true })).toEqual({ dir: "/out" });
    expect(planCopy(contents, { path: "/out", exists: true, isDir: true })).toEqual({ dir: "/out" });
  });

  test("a directory onto an existing file is an error", () => {
    expect(() => planCopy(dir, { path: "/out/f", exists: true, isDir: false })).toThrow(/cannot copy a directory to a file/);
  });

  test("a file onto an existing file replaces it", () => {
    expect(planCopy(file, { path: "/out/g", exists: true, isDir: false })).toEqual({ dir: "/out", rename: { from: "f.txt", to: "g" } });
  });

  test("a directory to a new path creates it", () => {
    expect(planCopy(dir, { path: "/out/new", exists: false, isDir: false })).toEqual({ dir: "/out", rename: { from: "d", to: "new" } });
    expect(planCopy(contents, { path: "/out/new", exists: false, isDir: false })).toEqual({ dir: "/out", rename: { from: ".", to: "new" } });
    expect(planCopy(dir, { path: "/out/new/", exists: false, isDir: false })).toEqual({ dir: "/out", rename: { from: "d", to: "new" } });
  });

  test("a file to a missing directory (trailing /) is an error", () => {
    expect(() => planCopy(file, { path: "/out/nodir/", exists: false, isDir: false })).toThrow(/destination directory must exist/);
  });

  test("a file to a new path creates it under that name", () => {
    expect(planCopy(file, { path: "/out/new.txt", exists: false, isDir: false })).toEqual({ dir: "/out", rename: { from: "f.txt", to: "new.txt" } });
  });
});

describe("renameEntry", () => {
  test("renames the top entry and what is below it", () => {
    const r = { from: "d", to: "copy" };
    expect(renameEntry("d", r)).toBe("copy");
    expect(renameEntry("d/a/b", r)).toBe("copy/a/b");
    expect(renameEntry("dd/a", r)).toBeUndefined();
    expect(renameEntry("other", r)).toBeUndefined();
    expect(renameEntry("x", undefined)).toBe("x");
  });

  test("contents archives (.) are put under the new name", () => {
    const r = { from: ".", to: "copy" };
    expect(renameEntry("", r)).toBe("copy");
    expect(renameEntry("a/b", r)).toBe("copy/a/b");
  });
});
