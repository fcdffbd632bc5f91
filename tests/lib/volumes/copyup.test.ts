/**
 * Copy-up from layer directories unpacked by skiff itself (overlay format:
 * whiteouts are 0/0 character devices, opaque directories carry
 * user.overlay.opaque), merged top-down into an empty volume. Owners are
 * checked only as root; the rest runs as any user.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyPending } from "../../../lib/layers/pending.ts";
import { copyUp } from "../../../lib/volumes/copyup.ts";
import { listNames, resolveLayered } from "../../../lib/volumes/layered.ts";
import { isRoot, listTree, TempDirs, unpackInto } from "../layers/helpers.ts";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

const dir = (name: string, mode = 0o755, uid = 0, gid = 0) => ({ name, type: "directory" as const, mode, uid, gid });

/** Three layers, top-most first: a container upper dir, then two image layers. */
async function layers(): Promise<string[]> {
  const l1 = await unpackInto(dirs, [
    dir("data/", 0o750, 1000, 1000),
    { name: "data/a", content: "a1" },
    { name: "data/gone", content: "x" },
    dir("data/sub/", 0o700, 1000, 1000),
    { name: "data/sub/deep", content: "d", mode: 0o640, uid: 1000, gid: 1000 },
    { name: "data/opq/lower", content: "L" },
    { name: "data/opq/both", content: "lower" },
    { name: "data/link", type: "symlink", linkname: "a" },
    { name: "data/hard1", content: "h", mode: 0o4755 },
    { name: "data/hard2", type: "link", linkname: "data/hard1" },
    { name: "data/fifo", type: "fifo", mode: 0o620 },
    { name: "data/dir-to-file/x", content: "x" },
    { name: "old/f", content: "x" },
    { name: "etc/x", content: "x" },
    dir("run/"),
    { name: "run/app/file", content: "r" },
    dir("var/"),
    { name: "var/run", type: "symlink", linkname: "../run" },
    { name: "abs", type: "symlink", linkname: "/run/app" },
  ]);
  const l2 = await unpackInto(dirs, [
    { name: "data/.wh.gone" },
    { name: "data/opq/.wh..wh..opq" },
    { name: "data/opq/upper", content: "U" },
    { name: "data/a", content: "a2" },
    { name: "data/b", content: "b2" },
    { name: "data/dir-to-file", content: "now a file" },
    { name: ".wh.old" },
  ]);
  const upper = await unpackInto(dirs, [{ name: "data/.wh.b" }, { name: "data/c", content: "c" }]);
  // Implicit parents get their metadata from below, as pull does (and as overlayfs copies up).
  applyPending(l2.dest, [l1.dest], l2.result.pending, { chown: isRoot });
  applyPending(upper.dest, [l2.dest, l1.dest], upper.result.pending, { chown: isRoot });
  return [upper.dest, l2.dest, l1.dest];
}

function dest(): string {
  const d = join(dirs.make("skiff-vol-"), "_data");
  mkdirSync(d, { mode: 0o755 });
  return d;
}

describe("merged view", () => {
  test("names: whiteouts hide, opaque dirs stop the merge, markers are not names", async () => {
    const ls = await layers();
    const data = resolveLayered(ls, "/data");
    expect(data?.entry.kind).toBe("dir");
    if (data?.entry.kind !== "dir") return;
    expect(listNames(data.entry)).toEqual(["a", "b", "c", "dir-to-file", "fifo", "gone", "hard1", "hard2", "link", "opq", "sub"]);
    expect(resolveLayered(ls, "/data/gone")).toBeUndefined();
    expect(resolveLayered(ls, "/data/b")).toBeUndefined();
    expect(resolveLayered(ls, "/data/opq/lower")).toBeUndefined();
    expect(resolveLayered(ls, "/data/dir-to-file")?.entry.kind).toBe("other");
    expect(resolveLayered(ls, "/data/dir-to-file/x")).toBeUndefined();
    expect(resolveLayered(ls, "/old")).toBeUndefined();
  });

  test("symlinks are followed inside the root", async () => {
    const ls = await layers();
    expect(resolveLayered(ls, "/var/run/app")?.path).toBe("/run/app");
    expect(resolveLayered(ls, "/abs")?.path).toBe("/run/app");
    expect(resolveLayered(ls, "/var/../../run/app/")?.path).toBe("/run/app");
    expect(resolveLayered(ls, "/data/link")?.path).toBe("/data/a");
  });
});

describe("copyUp", () => {
  test("copies the merged directory with modes, links and the root's metadata", async () => {
    const ls = await layers();
    const d = dest();
    const r = copyUp({ layers: ls, target: "/data", dest: d }, { chown: isRoot });
    expect(r.status).toBe("copied");
    expect(listTree(d)).toEqual(["a", "c", "dir-to-file", "fifo", "hard1", "hard2", "link", "opq", "opq/upper", "sub", "sub/deep"]);
    expect(readFileSync(join(d, "a"), "utf8")).toBe("a2");
    expect(readFileSync(join(d, "dir-to-file"), "utf8")).toBe("now a file");
    expect(readlinkSync(join(d, "link"))).toBe("a");
    expect(lstatSync(join(d, "hard1")).ino).toBe(lstatSync(join(d, "hard2")).ino);
    expect(lstatSync(join(d, "fifo")).isFIFO()).toBe(true);
    expect(lstatSync(join(d, "fifo")).mode & 0o7777).toBe(0o620);
    expect(lstatSync(join(d, "sub")).mode & 0o7777).toBe(0o700);
    expect(lstatSync(join(d, "sub/deep")).mode & 0o7777).toBe(0o640);
    expect(lstatSync(d).mode & 0o7777).toBe(0o750);
    expect(lstatSync(join(d, "sub/deep")).mtimeMs).toBe(lstatSync(join(ls[2] as string, "data/sub/deep")).mtimeMs);
    if (isRoot) {
      expect(lstatSync(join(d, "hard1")).mode & 0o7777).toBe(0o4755);
      expect(lstatSync(d).uid).toBe(1000);
      expect(lstatSync(join(d, "sub/deep")).gid).toBe(1000);
    }
    expect(r.entries).toBe(11);
  });

  test("through a symlinked target", async () => {
    const d = dest();
    expect(copyUp({ layers: await layers(), target: "/var/run/app", dest: d }, { chown: isRoot }).status).toBe("copied");
    expect(listTree(d)).toEqual(["file"]);
  });

  test("a volume with content is left alone", async () => {
    const d = dest();
    writeFileSync(join(d, "mine"), "keep");
    expect(copyUp({ layers: await layers(), target: "/data", dest: d }, { chown: isRoot })).toEqual({ status: "not-empty", entries: 0 });
    expect(listTree(d)).toEqual(["mine"]);
  });

  test("an interrupted copy-up starts over", async () => {
    const d = dest();
    mkdirSync(join(d, "half"));
    writeFileSync(join(d, "half", "x"), "partial");
    expect(copyUp({ layers: await layers(), target: "/run/app", dest: d, clearFirst: true }, { chown: isRoot }).status).toBe("copied");
    expect(listTree(d)).toEqual(["file"]);
  });

  test("nothing to copy: absent paths, whited-out dirs, files", async () => {
    const ls = await layers();
    const d = dest();
    expect(copyUp({ layers: ls, target: "/nope", dest: d }, { chown: isRoot }).status).toBe("absent");
    expect(copyUp({ layers: ls, target: "/old", dest: d }, { chown: isRoot }).status).toBe("absent");
    expect(copyUp({ layers: ls, target: "/etc/x", dest: d }, { chown: isRoot }).status).toBe("not-a-directory");
    expect(lstatSync(d).mode & 0o7777).toBe(0o755);
    expect(listTree(d)).toEqual([]);
  });

  test("the root keeps its owner when the volume's options chose it", async () => {
    const d = dest();
    copyUp({ layers: await layers(), target: "/data", dest: d, keepRootOwner: true }, { chown: isRoot });
    expect(lstatSync(d).mode & 0o7777).toBe(0o755);
  });
});
