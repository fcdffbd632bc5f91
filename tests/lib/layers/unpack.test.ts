import { afterEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { sha256 } from "../../../lib/digest.ts";
import { unpackLayer } from "../../../lib/layers/unpack.ts";
import { lgetxattr } from "../../../lib/sys/libc.ts";
import {
  chunked,
  isRoot,
  listTree,
  makeTar,
  rawBlock,
  rawPaxHeader,
  rejection,
  TempDirs,
  unpackInto,
  withoutTrailer,
} from "./helpers.ts";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

const T = 1_600_000_000; // makeTar's default mtime, in seconds

function mode(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

describe("entry types", () => {
  test("regular files, directories, symlinks, hardlinks and FIFOs", async () => {
    const { dest, result, warnings } = await unpackInto(dirs, [
      { name: "./", type: "directory", mode: 0o755 },
      { name: "etc/", type: "directory", mode: 0o755 },
      { name: "etc/hostname", content: "box\n", mode: 0o644 },
      { name: "bin/busybox", content: "ELF", mode: 0o755 },
      { name: "bin/sh", type: "link", linkname: "bin/busybox" },
      { name: "bin/ls", type: "symlink", linkname: "busybox" },
      { name: "etc/mtab", type: "symlink", linkname: "/proc/mounts" },
      { name: "run/initctl", type: "fifo", mode: 0o600 },
    ]);
    expect(warnings).toEqual([]);
    expect(result.entries).toBe(8);
    expect(readFileSync(join(dest, "etc/hostname"), "utf8")).toBe("box\n");
    expect(lstatSync(join(dest, "bin/sh")).ino).toBe(lstatSync(join(dest, "bin/busybox")).ino);
    expect(lstatSync(join(dest, "bin/busybox")).nlink).toBe(2);
    expect(readlinkSync(join(dest, "bin/ls"))).toBe("busybox");
    expect(readlinkSync(join(dest, "etc/mtab"))).toBe("/proc/mounts");
    expect(lstatSync(join(dest, "run/initctl")).isFIFO()).toBe(true);
    expect(mode(join(dest, "run/initctl"))).toBe(0o600);
    expect(listTree(dest)).toEqual([
      "bin", "bin/busybox", "bin/ls", "bin/sh", "etc", "etc/hostname", "etc/mtab", "run", "run/initctl",
    ]);
  });

  test("modes, including setuid, setgid and sticky, and restrictive directories", async () => {
    const { dest } = await unpackInto(dirs, [
      { name: "bin/su", content: "x", mode: 0o4755 },
      { name: "bin/wall", content: "x", mode: 0o2755 },
      { name: "tmp/", type: "directory", mode: 0o1777 },
      { name: "secret/", type: "directory", mode: 0o500 },
      { name: "secret/inner/", type: "directory", mode: 0o001 }, // (pack() turns mode 0 into 0755)
      { name: "secret/file", content: "s", mode: 0o400 },
    ]);
    expect(mode(join(dest, "bin/su"))).toBe(0o4755);
    expect(mode(join(dest, "bin/wall"))).toBe(0o2755);
    expect(mode(join(dest, "tmp"))).toBe(0o1777);
    expect(mode(join(dest, "secret"))).toBe(0o500);
    expect(mode(join(dest, "secret/inner"))).toBe(0o001);
    expect(mode(join(dest, "secret/file"))).toBe(0o400);
    expect(mode(join(dest, "bin"))).toBe(0o755); // implicit
  });

  test.skipIf(!isRoot)("ownership from the headers, setuid kept after chown (root)", async () => {
    const { dest } = await unpackInto(dirs, [
      { name: "home/u/", type: "directory", mode: 0o750, uid: 1000, gid: 1000 },
      { name: "home/u/f", content: "x", mode: 0o4750, uid: 1000, gid: 50 },
      { name: "home/u/l", type: "symlink", linkname: "/nowhere", uid: 1001, gid: 1002 },
      { name: "home/u/p", type: "fifo", mode: 0o640, uid: 7, gid: 8 },
    ]);
    const f = lstatSync(join(dest, "home/u/f"));
    expect([f.uid, f.gid, f.mode & 0o7777]).toEqual([1000, 50, 0o4750]);
    const d = lstatSync(join(dest, "home/u"));
    expect([d.uid, d.gid]).toEqual([1000, 1000]);
    const l = lstatSync(join(dest, "home/u/l"));
    expect([l.uid, l.gid]).toEqual([1001, 1002]);
    const p = lstatSync(join(dest, "home/u/p"));
    expect([p.uid, p.gid]).toEqual([7, 8]);
    const implicit = lstatSync(join(dest, "home"));
    expect([implicit.uid, implicit.gid, implicit.mode & 0o7777]).toEqual([0, 0, 0o755]);
  });

  test("ids above maxId fail with a hint about /etc/subuid", async () => {
    const e = await rejection(
      unpackInto(dirs, [{ name: "f", content: "x", uid: 70000 }], { chown: true, maxId: 65535 }),
    );
    expect(e.kind).toBe("InvalidArgument");
    expect(e.message).toContain("layer needs uid 70000 but only 0-65535 are mapped");
    expect(e.message).toContain("/etc/subuid");
    expect(e.message).toContain('entry "f"');
    const g = await rejection(unpackInto(dirs, [{ name: "f", content: "x", gid: 65536 }], { chown: true, maxId: 65535 }));
    expect(g.message).toContain("/etc/subgid");
  });

  test("mtimes of files, symlinks and directories (set after their children), PAX sub-second mtime", async () => {
    const { dest } = await unpackInto(dirs, [
      { name: "d/", type: "directory", mtime: new Date(1_500_000_000_000) },
      { name: "d/f", content: "x", mtime: new Date(1_400_000_000_000) },
      { name: "d/l", type: "symlink", linkname: "f", mtime: new Date(1_300_000_000_000) },
      { name: "d/sub/", type: "directory" },
      { name: "d/sub/g", content: "y" },
      { name: "frac", content: "z", pax: { mtime: "1600000000.5" } },
    ]);
    expect(lstatSync(join(dest, "d")).mtimeMs).toBe(1_500_000_000_000);
    expect(lstatSync(join(dest, "d/f")).mtimeMs).toBe(1_400_000_000_000);
    expect(lstatSync(join(dest, "d/l")).mtimeMs).toBe(1_300_000_000_000);
    expect(lstatSync(join(dest, "d/sub")).mtimeMs).toBe(T * 1000);
    expect(lstatSync(join(dest, "frac")).mtimeMs).toBe(1_600_000_000_500);
  });

  test("PAX long names and link targets; GNU long names and links", async () => {
    const long = `${"d".repeat(120)}/${"e".repeat(120)}/file-${"f".repeat(100)}`;
    const target = `/${"t".repeat(200)}`;
    const pax = await makeTar([
      { name: long, content: "long" },
      { name: "s", type: "symlink", linkname: target },
      { name: "h", type: "link", linkname: long },
    ]);
    const gnu = Buffer.concat([
      rawBlock("L", Buffer.from(`gnu/${"g".repeat(150)}\0`), "././@LongLink", true),
      withoutTrailer(await makeTar([{ name: "short", content: "gnu" }])),
      rawBlock("K", Buffer.from(`${"k".repeat(150)}\0`), "././@LongLink", true),
      withoutTrailer(await makeTar([{ name: "gs", type: "symlink", linkname: "x" }])),
      Buffer.alloc(1024),
    ]);
    const a = await unpackInto(dirs, pax);
    expect(readFileSync(join(a.dest, long), "utf8")).toBe("long");
    expect(readlinkSync(join(a.dest, "s"))).toBe(target);
    expect(lstatSync(join(a.dest, "h")).ino).toBe(lstatSync(join(a.dest, long)).ino);
    const b = await unpackInto(dirs, gnu);
    expect(readFileSync(join(b.dest, `gnu/${"g".repeat(150)}`), "utf8")).toBe("gnu");
    expect(readlinkSync(join(b.dest, "gs"))).toBe("k".repeat(150));
  });

  test("the root entry sets the metadata of dest; without one the root is an implicit dir", async () => {
    const withRoot = await unpackInto(dirs, [{ name: "./", type: "directory", mode: 0o700, mtime: new Date(1e12) }]);
    expect(mode(withRoot.dest)).toBe(0o700);
    expect(lstatSync(withRoot.dest).mtimeMs).toBe(1e12);
    expect(withRoot.result.pending.implicitDirs).toEqual([]);
    const without = await unpackInto(dirs, [{ name: "f", content: "x" }]);
    expect(mode(without.dest)).toBe(0o755);
    expect(without.result.pending.implicitDirs).toEqual(["."]);
  });
});

describe("xattrs", () => {
  test("SCHILY and LIBARCHIVE user xattrs are set; overlay xattrs are dropped with one warning", async () => {
    const { dest, warnings } = await unpackInto(dirs, [
      { name: "f", content: "x", pax: { "SCHILY.xattr.user.greeting": "héllo" } },
      { name: "g", content: "y", pax: { "LIBARCHIVE.xattr.user.b%20n": Buffer.from("bin\0ary").toString("base64") } },
      { name: "d/", type: "directory", pax: { "SCHILY.xattr.user.overlay.opaque": "y" } },
      { name: "e/", type: "directory", pax: { "SCHILY.xattr.trusted.overlay.opaque": "y" } },
      { name: "w", content: "", pax: { "SCHILY.xattr.user.overlay.redirect": "/etc" } },
    ]);
    expect(lgetxattr(join(dest, "f"), "user.greeting")?.toString()).toBe("héllo");
    expect(lgetxattr(join(dest, "g"), "user.b n")?.toString("latin1")).toBe("bin\0ary");
    expect(lgetxattr(join(dest, "d"), "user.overlay.opaque")).toBeUndefined();
    expect(lgetxattr(join(dest, "w"), "user.overlay.redirect")).toBeUndefined();
    expect(warnings.filter((w) => w.includes("overlayfs xattr"))).toHaveLength(1);
  });

  test("binary PAX values survive byte for byte", async () => {
    const value = Uint8Array.from([0x01, 0x00, 0x00, 0x02, 0x80, 0x20, 0xc0, 0xff, 0x00, 0x0a]);
    const tar = Buffer.concat([
      rawPaxHeader([["SCHILY.xattr.user.bin", value], ["mtime", "1234567890"]]),
      withoutTrailer(await makeTar([{ name: "f", content: "x" }])),
      Buffer.alloc(1024),
    ]);
    const { dest } = await unpackInto(dirs, tar);
    expect(new Uint8Array(lgetxattr(join(dest, "f"), "user.bin") ?? [])).toEqual(value);
    expect(lstatSync(join(dest, "f")).mtimeMs).toBe(1_234_567_890_000);
  });

  test.skipIf(!isRoot)("security.capability is set after chown (root)", async () => {
    // VFS_CAP_REVISION_2 | effective; permitted: CAP_SETUID (7) | CAP_NET_RAW (13)
    const cap = Uint8Array.from([0x01, 0x00, 0x00, 0x02, 0x80, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const tar = Buffer.concat([
      rawPaxHeader([["SCHILY.xattr.security.capability", cap]]),
      withoutTrailer(await makeTar([{ name: "bin/ping", content: "x", mode: 0o755, uid: 0, gid: 0 }])),
      Buffer.alloc(1024),
    ]);
    const { dest, warnings } = await unpackInto(dirs, tar);
    expect(warnings).toEqual([]);
    expect(new Uint8Array(lgetxattr(join(dest, "bin/ping"), "security.capability") ?? [])).toEqual(cap);
  });
});

describe("whiteouts", () => {
  test("a whiteout is a 0/0 character device and an opaque marker an xattr; no .wh. file is created", async () => {
    const { dest, result } = await unpackInto(dirs, [
      { name: "etc/", type: "directory" },
      { name: "etc/.wh.shadow", content: "" },
      { name: ".wh.opt" },
      { name: "var/cache/.wh..wh..opq" },
      { name: "var/cache/kept", content: "k" },
      { name: "a/.wh..wh.plnk" },
    ]);
    const wh = lstatSync(join(dest, "etc/shadow"));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(lstatSync(join(dest, "opt")).isCharacterDevice()).toBe(true);
    expect(lgetxattr(join(dest, "var/cache"), "user.overlay.opaque")?.toString()).toBe("y");
    expect(readFileSync(join(dest, "var/cache/kept"), "utf8")).toBe("k");
    expect(listTree(dest).filter((p) => p.includes(".wh."))).toEqual([]);
    // reserved AUFS names are skipped altogether
    expect(result.pending.implicitDirs).toEqual([".", "var", "var/cache"]);
    expect(readdirSync(dest).sort()).toEqual(["etc", "opt", "var"]);
  });

  test("a whiteout for a name created earlier in the layer removes it; a directory after a whiteout is opaque", async () => {
    const { dest } = await unpackInto(dirs, [
      { name: "gone", content: "x" },
      { name: "tree/sub/f", content: "x" },
      { name: ".wh.gone" },
      { name: ".wh.tree" },
      { name: ".wh.back" },
      { name: "back/", type: "directory" },
      { name: ".wh.implicit" },
      { name: "implicit/child", content: "c" },
    ]);
    expect(lstatSync(join(dest, "gone")).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(dest, "tree")).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(dest, "back")).isDirectory()).toBe(true);
    expect(lgetxattr(join(dest, "back"), "user.overlay.opaque")?.toString()).toBe("y");
    expect(lgetxattr(join(dest, "implicit"), "user.overlay.opaque")?.toString()).toBe("y");
    expect(readFileSync(join(dest, "implicit/child"), "utf8")).toBe("c");
  });
});

describe("duplicate entries", () => {
  test("later wins; a non-directory replaces a directory tree; a directory over a directory keeps its children", async () => {
    const { dest, result } = await unpackInto(dirs, [
      { name: "f", content: "first" },
      { name: "f", content: "second" },
      { name: "d/", type: "directory", mode: 0o700 },
      { name: "d/child", content: "c" },
      { name: "d/", type: "directory", mode: 0o750, mtime: new Date(1e12) },
      { name: "t/a/b", content: "deep" },
      { name: "t", content: "now a file" },
      { name: "s", content: "file" },
      { name: "s", type: "symlink", linkname: "f" },
      { name: "x", type: "symlink", linkname: "f" },
      { name: "x/", type: "directory" },
    ]);
    expect(readFileSync(join(dest, "f"), "utf8")).toBe("second");
    expect(readFileSync(join(dest, "d/child"), "utf8")).toBe("c");
    expect(mode(join(dest, "d"))).toBe(0o750);
    expect(lstatSync(join(dest, "d")).mtimeMs).toBe(1e12);
    expect(readFileSync(join(dest, "t"), "utf8")).toBe("now a file");
    expect(readlinkSync(join(dest, "s"))).toBe("f");
    expect(lstatSync(join(dest, "x")).isDirectory()).toBe(true);
    expect(lgetxattr(join(dest, "x"), "user.overlay.opaque")?.toString()).toBe("y");
    // t/a was implicit, then removed with t
    expect(result.pending.implicitDirs).toEqual(["."]);
  });

  test("an explicit entry for an implicit parent removes it from the pending list", async () => {
    const { result } = await unpackInto(dirs, [
      { name: "a/b/c", content: "x" },
      { name: "a/", type: "directory" },
    ]);
    expect(result.pending.implicitDirs).toEqual([".", "a/b"]);
  });
});

describe("compression and digests", () => {
  test("gzip, zstd and none are detected and give the same diff id: sha256 of the tar", async () => {
    const tar = await makeTar([
      { name: "a", content: "alpha".repeat(1000) },
      { name: "b/", type: "directory" },
      { name: "b/c", content: "gamma" },
    ]);
    const inputs = { gzip: gzipSync(tar), zstd: zstdCompressSync(tar), none: tar };
    for (const [name, data] of Object.entries(inputs)) {
      const { dest, result } = await unpackInto(dirs, data);
      expect(result.diffId).toBe(sha256(tar));
      expect(result.size).toBe(tar.length);
      expect(result.compressedSize).toBe(data.length);
      expect(result.entries).toBe(3);
      expect(readFileSync(join(dest, "b/c"), "utf8")).toBe("gamma");
      if (name !== "none") expect(result.compressedSize).toBeLessThan(tar.length);
    }
  });

  test("a ReadableStream input and an explicit compression", async () => {
    const tar = await makeTar([{ name: "a", content: "x" }]);
    const dest = join(dirs.make(), "fs");
    mkdirSync(dest);
    const r = await unpackLayer(new Blob([gzipSync(tar)]).stream(), { dest, compression: "gzip", chown: false });
    expect(r.diffId).toBe(sha256(tar));
    expect(readdirSync(dest)).toEqual(["a"]);
  });

  test("truncated, corrupt or unsupported input fails with InvalidArgument", async () => {
    const tar = await makeTar([{ name: "a", content: "x".repeat(100_000) }]);
    const gz = gzipSync(tar);
    const cut = await rejection(unpackInto(dirs, gz.subarray(0, gz.length >> 1)));
    expect(cut.kind).toBe("InvalidArgument");
    const cutTar = await rejection(unpackInto(dirs, tar.subarray(0, 5000)));
    expect(cutTar.kind).toBe("InvalidArgument");
    const garbage = await rejection(unpackInto(dirs, new Uint8Array(2048).fill(7)));
    expect(garbage.message).toContain("invalid tar");
    const xz = await rejection(unpackInto(dirs, Uint8Array.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2])));
    expect(xz.message).toContain("xz");
    const wrong = await rejection(unpackInto(dirs, tar, { compression: "gzip" }));
    expect(wrong.message).toContain("gzip decompression failed");
  });

  test("a refused entry cancels the input stream", async () => {
    const tar = await makeTar([{ name: "../x", content: "e" }, { name: "big", content: new Uint8Array(8 << 20) }]);
    let cancelled = false;
    let offset = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (offset >= tar.length) return c.close();
        c.enqueue(tar.slice(offset, offset + 65536));
        offset += 65536;
      },
      cancel() {
        cancelled = true;
      },
    });
    const dest = join(dirs.make(), "fs");
    mkdirSync(dest);
    const e = await rejection(unpackLayer(stream, { dest, chown: false }));
    expect(e.kind).toBe("InvalidArgument");
    expect(cancelled).toBe(true);
    expect(offset).toBeLessThan(tar.length);
  });

  test("names too long for the filesystem are the layer's fault", async () => {
    const e = await rejection(unpackInto(dirs, [{ name: `${"n".repeat(300)}`, content: "x" }]));
    expect(e.kind).toBe("InvalidArgument");
    expect(e.message).toContain("ENAMETOOLONG");
  });

  test("backpressure: the input is pulled only as fast as the file is written", async () => {
    const big = new Uint8Array(32 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const tar = await makeTar([{ name: "big", content: big }]);
    const dest = join(dirs.make(), "fs");
    mkdirSync(dest);
    let pulled = 0;
    let maxLag = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for await (const c of chunked(tar, 65536)) {
        if (pulled > 1024 * 1024 && pulled < big.length) {
          maxLag = Math.max(maxLag, pulled - lstatSync(join(dest, "big")).size);
        }
        pulled += c.length;
        yield c;
      }
    }
    const r = await unpackLayer(source(), { dest, chown: false });
    expect(pulled).toBe(tar.length);
    expect(r.size).toBe(tar.length);
    expect(lstatSync(join(dest, "big")).size).toBe(big.length);
    expect(maxLag).toBeLessThan(2 * 1024 * 1024);
  });
});
