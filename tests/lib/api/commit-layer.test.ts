/**
 * The commit layer writer (overlay upper dir → OCI layer tar) and the
 * changes list, on temp directories, read back by an independent tar
 * reader (tar-stream). Whiteouts need mknod (root); opaque directories need
 * user xattrs on the temp filesystem: those cases skip with a reason.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-stream";
import { layerTar } from "../../../lib/images/commit-layer.ts";
import { setOpaque } from "../../../lib/layers/xattrs.ts";
import { mknod, S_IFCHR } from "../../../lib/sys/libc.ts";
import { upperChanges } from "../../../lib/containers/upper-changes.ts";

const base = mkdtempSync(join(tmpdir(), "skiff-commit-unit-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

function canSetUserXattr(): boolean {
  const d = join(base, "xattr-probe");
  mkdirSync(d, { recursive: true });
  try {
    setOpaque(d);
    return true;
  } catch {
    return false;
  }
}
const xattrs = canSetUserXattr();

interface Entry {
  name: string;
  type: string;
  size: number;
  linkname?: string | null;
  body: string;
}

async function readBack(upper: string): Promise<{ entries: Entry[]; count: number }> {
  const stats = { entries: 0 };
  const chunks = [...layerTar(upper, stats)];
  const extract = tar.extract();
  const entries: Entry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on("data", (d: unknown) => {
        parts.push(d as Buffer);
      });
      stream.on("end", () => {
        entries.push({ name: h.name, type: h.type ?? "file", size: h.size ?? 0, linkname: h.linkname, body: Buffer.concat(parts).toString() });
        next();
      });
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  for (const c of chunks) extract.write(Buffer.from(c));
  extract.end(Buffer.alloc(0));
  await done;
  return { entries, count: stats.entries };
}

describe("layerTar", () => {
  test("files, directories, symlinks, hardlinks, long names", async () => {
    const upper = join(base, "u1");
    mkdirSync(join(upper, "etc", "deep"), { recursive: true });
    writeFileSync(join(upper, "etc", "hosts"), "127.0.0.1 x\n");
    linkSync(join(upper, "etc", "hosts"), join(upper, "etc", "hosts.link"));
    symlinkSync("/etc/hosts", join(upper, "etc", "deep", "ln"));
    const long = "l".repeat(120);
    writeFileSync(join(upper, long), "long");
    const { entries, count } = await readBack(upper);
    expect(count).toBe(entries.length);
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ["etc/", "directory"],
      ["etc/deep/", "directory"],
      ["etc/deep/ln", "symlink"],
      ["etc/hosts", "file"],
      ["etc/hosts.link", "link"],
      [long, "file"],
    ]);
    expect(entries.find((e) => e.name === "etc/hosts")?.body).toBe("127.0.0.1 x\n");
    expect(entries.find((e) => e.name === "etc/deep/ln")?.linkname).toBe("/etc/hosts");
    expect(entries.find((e) => e.name === "etc/hosts.link")?.linkname).toBe("etc/hosts");
    expect(entries.find((e) => e.name === long)?.body).toBe("long");
  });

  test("an empty upper dir is an empty layer", async () => {
    const upper = join(base, "u-empty");
    mkdirSync(upper);
    const { entries, count } = await readBack(upper);
    expect(entries).toEqual([]);
    expect(count).toBe(0);
  });

  test.skipIf(!isRoot)("a whiteout (0/0 char device) becomes .wh.<name> (needs root for mknod)", async () => {
    const upper = join(base, "u-wh");
    mkdirSync(join(upper, "etc"), { recursive: true });
    mknod(join(upper, "etc", "gone"), S_IFCHR | 0o000, 0n);
    const { entries } = await readBack(upper);
    expect(entries.map((e) => [e.name, e.type, e.size])).toEqual([
      ["etc/", "directory", 0],
      ["etc/.wh.gone", "file", 0],
    ]);
    expect(upperChanges(upper, [])).toEqual([
      { Path: "/etc", Kind: 1 },
      { Path: "/etc/gone", Kind: 2 },
    ]);
  });

  test.skipIf(!xattrs)("an opaque directory gets .wh..wh..opq after it (needs user xattrs on the temp fs)", async () => {
    const upper = join(base, "u-opq");
    mkdirSync(join(upper, "var", "cache"), { recursive: true });
    writeFileSync(join(upper, "var", "cache", "new"), "n");
    setOpaque(join(upper, "var", "cache"));
    const { entries } = await readBack(upper);
    expect(entries.map((e) => e.name)).toEqual(["var/", "var/cache/", "var/cache/.wh..wh..opq", "var/cache/new"]);
  });
});

describe("upperChanges", () => {
  test("added, modified, unchanged parent directories", () => {
    const lower = join(base, "lower");
    mkdirSync(join(lower, "etc"), { recursive: true });
    writeFileSync(join(lower, "etc", "passwd"), "root");
    const upper = join(base, "upper-ch");
    mkdirSync(join(upper, "etc"), { recursive: true });
    mkdirSync(join(upper, "tmp"), { recursive: true });
    writeFileSync(join(upper, "etc", "passwd"), "root2");
    writeFileSync(join(upper, "tmp", "new"), "x");
    const changes = upperChanges(upper, [lower]);
    expect(changes).toContainEqual({ Path: "/etc/passwd", Kind: 0 });
    expect(changes).toContainEqual({ Path: "/tmp", Kind: 1 });
    expect(changes).toContainEqual({ Path: "/tmp/new", Kind: 1 });
    // /etc exists below: listed as modified only if its metadata differs.
    expect(changes.filter((c) => c.Path === "/etc").every((c) => c.Kind === 0)).toBe(true);
  });
});
