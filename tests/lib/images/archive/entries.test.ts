import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { sha256 } from "../../../../lib/digest.ts";
import { isSkiffError } from "../../../../lib/errors.ts";
import { archiveEntryAction, extractArchive } from "../../../../lib/images/archive/entries.ts";
import { cleanupArchives, extracted, makeTar, streamOf, tempDir } from "./helpers.ts";

afterAll(cleanupArchives);

async function refused(tar: Uint8Array): Promise<string> {
  const dir = tempDir();
  try {
    await extractArchive(streamOf(tar), dir);
  } catch (e) {
    expect(isSkiffError(e, "InvalidArgument")).toBe(true);
    return (e as Error).message;
  }
  throw new Error("extraction was not refused");
}

describe("archiveEntryAction", () => {
  test("regular files and directories are extracted, the root entry skipped", () => {
    expect(archiveEntryAction({ name: "./manifest.json", type: "file" })).toEqual({ action: "file", rel: "manifest.json" });
    expect(archiveEntryAction({ name: "blobs/sha256/", type: "directory" })).toEqual({ action: "dir", rel: "blobs/sha256" });
    expect(archiveEntryAction({ name: "./", type: "directory" })).toEqual({ action: "skip" });
  });

  test("names leaving the archive are refused", () => {
    for (const name of ["../etc/passwd", "a/../../x", "/etc/passwd", "a\0b", ""]) {
      expect(archiveEntryAction({ name, type: "file" }).action).toBe("refuse");
    }
  });

  test("links become aliases resolved inside the archive, never files", () => {
    expect(archiveEntryAction({ name: "abc/layer.tar", type: "symlink", linkname: "../x.tar" })).toEqual({
      action: "alias",
      rel: "abc/layer.tar",
      target: "x.tar",
    });
    expect(archiveEntryAction({ name: "b.tar", type: "link", linkname: "./dir/a.tar" })).toEqual({ action: "alias", rel: "b.tar", target: "dir/a.tar" });
  });

  test("links out of the archive, to absolute paths or to the root are refused", () => {
    expect(archiveEntryAction({ name: "a/layer.tar", type: "symlink", linkname: "../../etc/shadow" }).action).toBe("refuse");
    expect(archiveEntryAction({ name: "a/layer.tar", type: "symlink", linkname: "/etc/shadow" }).action).toBe("refuse");
    expect(archiveEntryAction({ name: "x", type: "link", linkname: "../y" }).action).toBe("refuse");
    expect(archiveEntryAction({ name: "a/l", type: "symlink", linkname: ".." }).action).toBe("refuse");
  });

  test("devices and fifos are refused", () => {
    for (const type of ["character-device", "block-device", "fifo"] as const) {
      expect(archiveEntryAction({ name: "dev", type }).action).toBe("refuse");
    }
  });
});

describe("extractArchive", () => {
  test("writes files, hashes them, and follows aliases by name", async () => {
    const a = await extracted(
      await makeTar([
        { name: "x.tar", type: "file", content: "layer bytes" },
        { name: "id/layer.tar", type: "symlink", linkname: "../x.tar" },
        { name: "id/again.tar", type: "symlink", linkname: "layer.tar" },
        { name: "hard.tar", type: "link", linkname: "x.tar" },
      ]),
    );
    const f = a.file("x.tar");
    expect(f).toMatchObject({ name: "x.tar", size: 11, digest: sha256("layer bytes") });
    expect(a.file("id/layer.tar")).toEqual(f);
    expect(a.file("./id/again.tar")).toEqual(f);
    expect(a.file("hard.tar")).toEqual(f);
    expect(a.file("missing")).toBeUndefined();
    expect(a.file("../x.tar")).toBeUndefined();
    // Nothing but regular files and directories on disk.
    expect(existsSync(join(a.dir, "id", "layer.tar"))).toBe(false);
    expect(existsSync(join(a.dir, "hard.tar"))).toBe(false);
    expect(lstatSync(f?.path ?? "").isFile()).toBe(true);
  });

  test("alias loops resolve to nothing", async () => {
    const a = await extracted(
      await makeTar([
        { name: "a", type: "symlink", linkname: "b" },
        { name: "b", type: "symlink", linkname: "a" },
      ]),
    );
    expect(a.file("a")).toBeUndefined();
  });

  test("a gzip-compressed archive is accepted", async () => {
    const tar = await makeTar([{ name: "manifest.json", type: "file", content: "[]" }]);
    const a = await extractArchive(streamOf(new Uint8Array(gzipSync(tar))), tempDir());
    expect(a.names()).toEqual(["manifest.json"]);
  });

  test("hostile entries are refused and nothing is written outside", async () => {
    const dir = tempDir();
    expect(await refused(await makeTar([{ name: "../escape", type: "file", content: "x" }]))).toContain(".. component");
    expect(await refused(await makeTar([{ name: "/abs", type: "file", content: "x" }]))).toContain("absolute");
    expect(await refused(await makeTar([{ name: "l", type: "symlink", linkname: "/etc/passwd" }]))).toContain("absolute");
    expect(await refused(await makeTar([{ name: "d/l", type: "symlink", linkname: "../../x" }]))).toContain("outside the archive");
    expect(await refused(await makeTar([{ name: "null", type: "character-device", devmajor: 1, devminor: 3 }]))).toContain("character-device");
    expect(readdirSync(join(dir, ".."))).not.toContain("escape");
  });

  test("a file over a file's path clashes instead of escaping", async () => {
    const msg = await refused(
      await makeTar([
        { name: "a", type: "file", content: "file" },
        { name: "a/b", type: "file", content: "under a file" },
      ]),
    );
    expect(msg).toContain("clashes");
  });

  test("garbage and empty input are refused", async () => {
    expect(await refused(new TextEncoder().encode("this is not a tar archive at all, not even close".repeat(20)))).toContain("tar");
    expect(await refused(new Uint8Array(1024))).toContain("empty");
  });
});
