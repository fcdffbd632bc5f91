/**
 * Hostile layers: nothing may be created, changed or linked outside dest.
 * Layout per test: <tmp>/outer/ is the sentinel parent, holding only
 * `fs` (dest) and `victim` (a file and a dir the layers aim at).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lgetxattr } from "../../../lib/sys/libc.ts";
import { listTree, rawBlock, rejection, TempDirs, type TestEntry, unpackInto } from "./helpers.ts";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

interface Arena {
  outer: string;
  dest: string;
  victimDir: string;
  victimFile: string;
}

function arena(): Arena {
  const outer = join(dirs.make("skiff-hostile-"), "outer");
  const dest = join(outer, "fs");
  const victimDir = join(outer, "victim");
  mkdirSync(dest, { recursive: true });
  mkdirSync(victimDir);
  const victimFile = join(victimDir, "secret");
  writeFileSync(victimFile, "untouched\n");
  return { outer, dest, victimDir, victimFile };
}

/** Nothing outside dest changed: outer holds fs and victim only, victim is as it was. */
function expectIntact(a: Arena): void {
  expect(readdirSync(a.outer).sort()).toEqual(["fs", "victim"]);
  expect(readdirSync(a.victimDir)).toEqual(["secret"]);
  expect(readFileSync(a.victimFile, "utf8")).toBe("untouched\n");
  const st = lstatSync(a.victimFile);
  expect(st.nlink).toBe(1);
  expect(st.mode & 0o7777).toBe(0o644);
  expect(lgetxattr(a.victimDir, "user.overlay.opaque")).toBeUndefined();
  expect(lgetxattr(a.outer, "user.overlay.opaque")).toBeUndefined();
}

async function refused(entries: (a: Arena) => TestEntry[], expectMessage: string): Promise<Arena> {
  const a = arena();
  const e = await rejection(unpackInto(dirs, entries(a), { dest: a.dest }));
  expect(e.kind).toBe("InvalidArgument");
  expect(e.message).toContain("layer sha256:test: entry ");
  expect(e.message).toContain(expectMessage);
  expect(e.message).not.toContain("\n");
  expectIntact(a);
  return a;
}

describe("hostile entry names", () => {
  test("../x", async () => {
    await refused(() => [{ name: "../x", content: "escaped" }], '"../x": path contains a .. component');
  });

  test("a/../../x", async () => {
    await refused(() => [{ name: "a/", type: "directory" }, { name: "a/../../x", content: "e" }], "..");
  });

  test("absolute names, also for directories and symlinks", async () => {
    await refused((a) => [{ name: join(a.outer, "abs"), content: "e" }], "absolute path");
    await refused((a) => [{ name: `${a.outer}/absdir/`, type: "directory" }], "absolute path");
    await refused((a) => [{ name: `${a.outer}/abslink`, type: "symlink", linkname: "y" }], "absolute path");
  });

  test("a non-directory naming the root, an empty name", async () => {
    await refused(() => [{ name: "./", content: "x" }], "names the layer root");
    const a = arena();
    const empty = Buffer.concat([rawBlock("0", Buffer.from("x"), ""), Buffer.alloc(1024)]);
    const e = await rejection(unpackInto(dirs, empty, { dest: a.dest }));
    expect(e.message).toBe('layer sha256:test: entry "": empty name');
    expectIntact(a);
  });

  test("an entry name with a newline gives a one-line error", async () => {
    await refused(() => [{ name: "a\n/../../x", content: "e" }], '"a\\n/../../x"');
  });
});

describe("writing through symlinks", () => {
  test("absolute symlink, then a file below it", async () => {
    const a = await refused((a) => [
      { name: "evil", type: "symlink", linkname: a.victimDir },
      { name: "evil/owned", content: "e" },
    ], "evil is a symlink: refusing to write through it");
    void a;
  });

  test("relative symlink climbing out, then a file below it", async () => {
    // Climbs above / and comes back down into the sentinel (so a broken
    // implementation writes into the arena, not somewhere on the host).
    await refused((a) => [
      { name: "evil", type: "symlink", linkname: `${"../".repeat(32)}${a.victimDir.slice(1)}` },
      { name: "evil/owned", content: "e" },
    ], "symlink");
    await refused(() => [
      { name: "evil", type: "symlink", linkname: "../victim" },
      { name: "evil/owned", content: "e" },
    ], "symlink");
  });

  test("symlink chains, directories, whiteouts and opaque markers through a symlink", async () => {
    await refused((a) => [
      { name: "b", type: "symlink", linkname: a.victimDir },
      { name: "a", type: "symlink", linkname: "b" },
      { name: "a/x", content: "e" },
    ], "symlink");
    await refused(() => [
      { name: "evil", type: "symlink", linkname: "../victim" },
      { name: "evil/sub/", type: "directory" },
    ], "symlink");
    await refused(() => [
      { name: "evil", type: "symlink", linkname: "../victim" },
      { name: "evil/.wh.secret" },
    ], "symlink");
    await refused(() => [
      { name: "evil", type: "symlink", linkname: "../victim" },
      { name: "evil/.wh..wh..opq" },
    ], "symlink");
    await refused(() => [
      { name: "evil", type: "symlink", linkname: "../victim" },
      { name: "evil/f", type: "fifo" },
    ], "symlink");
  });

  test("a symlink that replaced a directory is not written through (cache invalidation)", async () => {
    await refused(() => [
      { name: "d/", type: "directory" },
      { name: "d/f", content: "fine" },
      { name: "d", type: "symlink", linkname: "../victim" },
      { name: "d/owned", content: "e" },
    ], "d is a symlink");
  });

  test("an entry over a symlink replaces the symlink, never its target", async () => {
    const a = arena();
    const { dest } = await unpackInto(dirs, [
      { name: "s", type: "symlink", linkname: a.victimFile },
      { name: "s", content: "replaced", mode: 0o600 },
      { name: "t", type: "symlink", linkname: a.victimDir },
      { name: "t/", type: "directory", mode: 0o700 },
      { name: "u", type: "symlink", linkname: a.victimFile },
      { name: "u", type: "fifo" },
    ], { dest: a.dest });
    expect(readFileSync(join(dest, "s"), "utf8")).toBe("replaced");
    expect(lstatSync(join(dest, "t")).isDirectory()).toBe(true);
    expect(lstatSync(join(dest, "u")).isFIFO()).toBe(true);
    expectIntact(a);
  });

  test("symlinks themselves may point anywhere", async () => {
    const a = arena();
    const { dest } = await unpackInto(dirs, [
      { name: "abs", type: "symlink", linkname: a.victimFile },
      { name: "rel", type: "symlink", linkname: "../../../../etc/passwd" },
    ], { dest: a.dest });
    expect(readlinkSync(join(dest, "abs"))).toBe(a.victimFile);
    expect(readlinkSync(join(dest, "rel"))).toBe("../../../../etc/passwd");
    expectIntact(a);
  });
});

describe("hostile hardlinks", () => {
  test("to ../outside, to an absolute path, through a symlink, to a directory", async () => {
    await refused(() => [{ name: "h", type: "link", linkname: "../victim/secret" }], "hardlink target");
    await refused((a) => [{ name: "h", type: "link", linkname: a.victimFile }], "absolute path");
    await refused(() => [
      { name: "evil", type: "symlink", linkname: "../victim" },
      { name: "h", type: "link", linkname: "evil/secret" },
    ], "evil is a symlink");
    await refused(() => [
      { name: "d/", type: "directory" },
      { name: "h", type: "link", linkname: "d" },
    ], "is a directory");
    await refused(() => [{ name: "h", type: "link", linkname: "./" }], "layer root");
  });

  test("a hardlink to a symlink pointing outside links the symlink, not its target", async () => {
    const a = arena();
    const { dest } = await unpackInto(dirs, [
      { name: "s", type: "symlink", linkname: a.victimFile },
      { name: "h", type: "link", linkname: "s" },
    ], { dest: a.dest });
    expect(lstatSync(join(dest, "h")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dest, "h"))).toBe(a.victimFile);
    expectIntact(a);
  });
});

describe("device nodes", () => {
  test("are never created; one warning per layer", async () => {
    const a = arena();
    const { dest, warnings } = await unpackInto(dirs, [
      { name: "dev/sda", type: "block-device", devmajor: 8, devminor: 0, mode: 0o660 },
      { name: "dev/mem", type: "character-device", devmajor: 1, devminor: 1, mode: 0o640 },
      { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "ok", content: "fine" },
    ], { dest: a.dest });
    expect(listTree(dest)).toEqual(["ok"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("device node dev/sda skipped");
    expectIntact(a);
  });
});
