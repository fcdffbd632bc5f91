import { afterEach, describe, expect, test } from "bun:test";
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isSkiffError } from "../../../lib/errors.ts";
import { applyPending, hasPending } from "../../../lib/layers/pending.ts";
import { lgetxattr } from "../../../lib/sys/libc.ts";
import { isRoot, TempDirs, type TestEntry, unpackInto } from "./helpers.ts";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

async function layer(entries: TestEntry[]): Promise<string> {
  return (await unpackInto(dirs, entries)).dest;
}

function meta(path: string): { mode: number; mtimeMs: number; uid: number; gid: number } {
  const st = lstatSync(path);
  return { mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid };
}

describe("implicit directories", () => {
  test("are recorded, and get mode, owner, mtime and xattrs of the first lower dir", async () => {
    const lower = await layer([
      { name: "./", type: "directory", mode: 0o751, mtime: new Date(1e12) },
      { name: "usr/", type: "directory", mode: 0o750, uid: 10, gid: 20, mtime: new Date(1.1e12), pax: { "SCHILY.xattr.user.tag": "usr" } },
      { name: "usr/lib/", type: "directory", mode: 0o700, mtime: new Date(1.2e12) },
    ]);
    const { dest, result } = await unpackInto(dirs, [{ name: "usr/lib/libc.so", content: "x" }]);
    expect(result.pending).toEqual({ implicitDirs: [".", "usr", "usr/lib"], lowerLinks: [] });
    expect(hasPending(result.pending)).toBe(true);
    expect(meta(join(dest, "usr")).mode).toBe(0o755);

    applyPending(dest, [lower], result.pending, { chown: isRoot });
    expect(meta(dest)).toMatchObject({ mode: 0o751, mtimeMs: 1e12 });
    expect(meta(join(dest, "usr"))).toMatchObject({ mode: 0o750, mtimeMs: 1.1e12 });
    expect(meta(join(dest, "usr/lib"))).toMatchObject({ mode: 0o700, mtimeMs: 1.2e12 });
    expect(lgetxattr(join(dest, "usr"), "user.tag")?.toString()).toBe("usr");
    if (isRoot) expect(meta(join(dest, "usr"))).toMatchObject({ uid: 10, gid: 20 });
    expect(readFileSync(join(dest, "usr/lib/libc.so"), "utf8")).toBe("x");
  });

  test("skip layers without the path, stop at a whiteout, at a non-directory and below an opaque parent", async () => {
    const bottom = await layer([
      { name: "a/", type: "directory", mode: 0o711 },
      { name: "w/", type: "directory", mode: 0o711 },
      { name: "o/", type: "directory", mode: 0o711 },
      { name: "o/in/", type: "directory", mode: 0o711 },
      { name: "f/", type: "directory", mode: 0o711 },
    ]);
    const middle = await layer([
      { name: ".wh.w" },
      { name: "o/.wh..wh..opq" },
      { name: "f", content: "now a file" },
      { name: "other", content: "x" },
    ]);
    const { dest, result } = await unpackInto(dirs, [
      { name: "a/x", content: "" },
      { name: "w/x", content: "" },
      { name: "o/in/x", content: "" },
      { name: "f/x", content: "" },
    ]);
    applyPending(dest, [middle, bottom], result.pending, { chown: isRoot });
    expect(meta(join(dest, "a")).mode).toBe(0o711); // found in the bottom layer
    expect(meta(join(dest, "w")).mode).toBe(0o755); // whited out in the middle
    expect(meta(join(dest, "o")).mode).toBe(0o755); // middle's o has no entry of its own: still implicit there
    expect(meta(join(dest, "o/in")).mode).toBe(0o755); // hidden by the opaque o
    expect(meta(join(dest, "f")).mode).toBe(0o755); // a file in the middle hides the dir
  });

  test("an opaque ancestor in the layer itself hides the lower dirs", async () => {
    const lower = await layer([{ name: "o/in/", type: "directory", mode: 0o711 }]);
    const { dest, result } = await unpackInto(dirs, [
      { name: "o/.wh..wh..opq" },
      { name: "o/in/x", content: "" },
    ]);
    applyPending(dest, [lower], result.pending, { chown: isRoot });
    expect(meta(join(dest, "o/in")).mode).toBe(0o755);
  });
});

describe("hardlinks to lower layers", () => {
  test("are recorded and become copies of the lower file, linked together when they share a target", async () => {
    const lower = await layer([
      { name: "usr/bin/tool", content: "binary", mode: 0o4711, mtime: new Date(1.3e12), pax: { "SCHILY.xattr.user.x": "1" } },
    ]);
    const { dest, result } = await unpackInto(dirs, [
      { name: "usr/bin/", type: "directory", mtime: new Date(1.4e12) },
      { name: "usr/bin/alias", type: "link", linkname: "usr/bin/tool" },
      { name: "usr/bin/alias2", type: "link", linkname: "usr/bin/alias" },
      { name: "gone", type: "link", linkname: "usr/bin/tool" },
      { name: "gone", content: "replaced by a later entry" },
    ]);
    expect(result.pending.lowerLinks).toEqual([
      { path: "usr/bin/alias", target: "usr/bin/tool" },
      { path: "usr/bin/alias2", target: "usr/bin/tool" },
    ]);
    applyPending(dest, [lower], result.pending, { chown: isRoot });
    const alias = join(dest, "usr/bin/alias");
    expect(readFileSync(alias, "utf8")).toBe("binary");
    expect(meta(alias)).toMatchObject({ mode: 0o4711, mtimeMs: 1.3e12 });
    expect(lgetxattr(alias, "user.x")?.toString()).toBe("1");
    expect(lstatSync(join(dest, "usr/bin/alias2")).ino).toBe(lstatSync(alias).ino);
    expect(meta(join(dest, "usr/bin")).mtimeMs).toBe(1.4e12); // the parent's times are kept
    expect(readFileSync(join(dest, "gone"), "utf8")).toBe("replaced by a later entry");
  });

  test("a missing lower target fails clearly", async () => {
    const lower = await layer([{ name: "other", content: "x" }]);
    const { dest, result } = await unpackInto(dirs, [{ name: "h", type: "link", linkname: "nowhere" }]);
    try {
      applyPending(dest, [lower], result.pending, { chown: isRoot });
      throw new Error("accepted");
    } catch (e) {
      expect(isSkiffError(e, "InvalidArgument")).toBe(true);
      expect((e as Error).message).toContain("target nowhere is not a regular file");
    }
  });

  test("a lower target that is a symlink or sits below a lower symlink is not followed", async () => {
    const lower = await layer([
      { name: "s", type: "symlink", linkname: "/etc/passwd" },
      { name: "d", type: "symlink", linkname: "/etc" },
    ]);
    for (const target of ["s", "d/passwd"]) {
      const { dest, result } = await unpackInto(dirs, [{ name: "h", type: "link", linkname: target }]);
      expect(() => applyPending(dest, [lower], result.pending, { chown: isRoot })).toThrow("is not a regular file");
    }
  });

  test("pending paths are validated again", async () => {
    const dest = dirs.make();
    expect(() => applyPending(dest, [], { implicitDirs: ["../x"], lowerLinks: [] })).toThrow("..");
    expect(() => applyPending(dest, [], { implicitDirs: [], lowerLinks: [{ path: "/etc/x", target: "a" }] })).toThrow(
      "absolute path",
    );
    expect(hasPending({ implicitDirs: [], lowerLinks: [] })).toBe(false);
  });
});
