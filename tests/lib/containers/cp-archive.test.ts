/** cp's tar side on temp trees: pack → extract round trips, Docker's overwrite rules, hostile archives. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extractArchive } from "../../../lib/containers/cp-extract.ts";
import { localDestination, localSource } from "../../../lib/containers/cp-local.ts";
import { packPath } from "../../../lib/containers/cp-pack.ts";
import { devNumbers } from "../../../lib/tar-entry.ts";
import { makeTar } from "../layers/helpers.ts";

let base: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "cp-archive-"));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

function buildSource(): string {
  const src = join(base, "src");
  mkdirSync(join(src, "sub", "deep"), { recursive: true });
  writeFileSync(join(src, "a.txt"), "alpha\n");
  writeFileSync(join(src, "sub", "deep", "b.bin"), Buffer.alloc(700_000, 7));
  writeFileSync(join(src, "run.sh"), "#!/bin/sh\n");
  chmodSync(join(src, "run.sh"), 0o750);
  symlinkSync("/etc/passwd", join(src, "abs-link"));
  symlinkSync("a.txt", join(src, "rel-link"));
  linkSync(join(src, "a.txt"), join(src, "hard.txt"));
  chmodSync(join(src, "sub"), 0o705);
  utimesSync(join(src, "a.txt"), new Date(1_500_000_000_000), new Date(1_500_000_000_000));
  return src;
}

describe("packPath + extractArchive", () => {
  test("a directory tree round-trips: content, modes, links, hardlinks, times", async () => {
    const src = buildSource();
    const out = join(base, "out");
    mkdirSync(out);
    const { stream, done } = packPath(src, "src");
    const r = await extractArchive(stream, { dest: out });
    expect((await done).contentBytes).toBe(6 + 700_000 + 10);
    expect(r.contentBytes).toBe(6 + 700_000 + 10);
    const got = join(out, "src");
    expect(readFileSync(join(got, "a.txt"), "utf8")).toBe("alpha\n");
    expect(readFileSync(join(got, "sub", "deep", "b.bin")).equals(Buffer.alloc(700_000, 7))).toBe(true);
    expect(lstatSync(join(got, "run.sh")).mode & 0o7777).toBe(0o750);
    expect(lstatSync(join(got, "sub")).mode & 0o7777).toBe(0o705);
    expect(readlinkSync(join(got, "abs-link"))).toBe("/etc/passwd");
    expect(readlinkSync(join(got, "rel-link"))).toBe("a.txt");
    expect(lstatSync(join(got, "hard.txt")).ino).toBe(lstatSync(join(got, "a.txt")).ino);
    expect(lstatSync(join(got, "a.txt")).mtimeMs).toBe(1_500_000_000_000);
  });

  test("contents (.) renamed to a new directory", async () => {
    const src = buildSource();
    const { stream } = packPath(src, ".");
    await extractArchive(stream, { dest: base, rename: { from: ".", to: "copy" } });
    expect(readFileSync(join(base, "copy", "a.txt"), "utf8")).toBe("alpha\n");
    expect(existsSync(join(base, "copy", "sub", "deep", "b.bin"))).toBe(true);
  });

  test("a single file renamed", async () => {
    const src = buildSource();
    const { stream } = packPath(join(src, "a.txt"), "a.txt");
    await extractArchive(stream, { dest: base, rename: { from: "a.txt", to: "renamed" } });
    expect(readFileSync(join(base, "renamed"), "utf8")).toBe("alpha\n");
  });

  test("an existing file is replaced, an existing directory is not", async () => {
    writeFileSync(join(base, "x"), "old");
    await extractArchive(once(await makeTar([{ name: "x", content: "new" }])), { dest: base });
    expect(readFileSync(join(base, "x"), "utf8")).toBe("new");
    mkdirSync(join(base, "d"));
    await expect(extractArchive(once(await makeTar([{ name: "d", content: "file" }])), { dest: base })).rejects.toThrow(/cannot overwrite directory/);
    await expect(extractArchive(once(await makeTar([{ name: "x", type: "directory" }])), { dest: base })).rejects.toThrow(/cannot overwrite non-directory/);
  });

  test("an archive cannot write through a symlink it planted", async () => {
    const victim = join(base, "victim");
    mkdirSync(victim);
    const out = join(base, "out");
    mkdirSync(out);
    const tar = await makeTar([
      { name: "evil", type: "symlink", linkname: victim },
      { name: "evil/owned", content: "pwned" },
    ]);
    await expect(extractArchive(once(tar), { dest: out })).rejects.toThrow(/is not a directory/);
    expect(existsSync(join(victim, "owned"))).toBe(false);
  });

  test("nor through a symlink already in the destination", async () => {
    const victim = join(base, "victim");
    mkdirSync(victim);
    const out = join(base, "out");
    mkdirSync(out);
    symlinkSync(victim, join(out, "link"));
    await expect(extractArchive(once(await makeTar([{ name: "link/x", content: "pwned" }])), { dest: out })).rejects.toThrow();
    expect(existsSync(join(victim, "x"))).toBe(false);
  });

  test(".. and absolute names are refused", async () => {
    await expect(extractArchive(once(await makeTar([{ name: "../escape", content: "x" }])), { dest: base })).rejects.toThrow(/\.\. component/);
    await expect(extractArchive(once(await makeTar([{ name: "/abs", content: "x" }])), { dest: base })).rejects.toThrow(/absolute path/);
    await expect(extractArchive(once(await makeTar([{ name: "h", type: "link", linkname: "../../etc/passwd" }])), { dest: base })).rejects.toThrow(/invalid hardlink/);
  });

  test("in scope, parents follow symlinks within the root", async () => {
    const root = join(base, "rootfs");
    mkdirSync(join(root, "usr", "bin"), { recursive: true });
    symlinkSync("/usr/bin", join(root, "bin"));
    symlinkSync("/", join(root, "up"));
    await extractArchive(once(await makeTar([{ name: "bin/tool", content: "t" }, { name: "up/up/top", content: "x" }])), { dest: "/", scopeRoot: root });
    expect(readFileSync(join(root, "usr", "bin", "tool"), "utf8")).toBe("t");
    expect(readFileSync(join(root, "top"), "utf8")).toBe("x");
    expect(existsSync(join(base, "top"))).toBe(false);
  });

  test("input that is no tar archive is an error saying so", async () => {
    await expect(extractArchive(once(Buffer.alloc(700, 0x41)), { dest: base })).rejects.toThrow(/invalid tar archive/);
  });

  test("entries outside the renamed top entry are refused", async () => {
    await expect(
      extractArchive(once(await makeTar([{ name: "other", content: "x" }])), { dest: base, rename: { from: "src", to: "dst" } }),
    ).rejects.toThrow(/invalid copy source content/);
  });
});

describe("local paths", () => {
  test("localSource follows parent links, the last one only with -L", () => {
    const src = buildSource();
    symlinkSync(src, join(base, "srclink"));
    expect(localSource(join(base, "srclink"), false)).toEqual({ path: join(base, "srclink"), info: { isDir: false, base: "srclink" } });
    expect(localSource(join(base, "srclink"), true)).toEqual({ path: src, info: { isDir: true, base: "srclink" } });
    expect(localSource(`${join(base, "srclink")}/`, false)).toEqual({ path: src, info: { isDir: true, base: "srclink" } });
    expect(localSource(`${join(base, "srclink")}/.`, false)).toEqual({ path: src, info: { isDir: true, base: "." } });
    expect(() => localSource(join(base, "nope"), false)).toThrow(/no such file or directory/);
  });

  test("localDestination follows a link in the last component and needs a parent", () => {
    mkdirSync(join(base, "d"));
    symlinkSync(join(base, "d"), join(base, "dl"));
    symlinkSync("missing-target", join(base, "broken"));
    expect(localDestination(join(base, "d"))).toEqual({ path: join(base, "d"), exists: true, isDir: true });
    expect(localDestination(join(base, "dl"))).toEqual({ path: join(base, "d"), exists: true, isDir: true });
    expect(localDestination(join(base, "broken"))).toEqual({ path: join(base, "missing-target"), exists: false, isDir: false });
    expect(localDestination(join(base, "new"))).toEqual({ path: join(base, "new"), exists: false, isDir: false });
    expect(() => localDestination(join(base, "no", "such"))).toThrow(/invalid output path: directory ".*\/no" does not exist/);
  });
});

test("devNumbers decodes Linux dev_t", () => {
  expect(devNumbers(0x0103)).toEqual({ major: 1, minor: 3 });
  expect(devNumbers(0x8800)).toEqual({ major: 136, minor: 0 });
});
