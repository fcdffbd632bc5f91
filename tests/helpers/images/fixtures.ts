/** Ready-made images for skiff's tests. Every function is deterministic. */
import { randomBytes, textBytes } from "./bytes.ts";
import { busyboxLayer, DEFAULT_PATH } from "./busybox.ts";
import type { FixtureEntry, ImageSpec, IndexSpec, LayerSpec } from "./types.ts";

export const UNICODE_NAME = "names/with space and ünïcødé ☃.txt";
/** A single 150-byte name component: needs a PAX path record. */
export const PAX_NAME = `long/${"p".repeat(150)}`;
/** A 120-byte ASCII name component written as a GNU ././@LongLink record. */
export const GNU_NAME = `long/${"g".repeat(120)}`;
/** 25 nested 10-byte directories: over the 255 bytes ustar's prefix+name can hold. */
export const DEEP_PATH = `long/${Array.from({ length: 25 }, (_, i) => `segment-${String(i).padStart(2, "0")}`).join("/")}/file`;
export const LONG_SYMLINK_TARGET = `/${"t".repeat(150)}`;

function lowerLayer(): LayerSpec {
  return {
    compression: "gzip",
    entries: [
      { type: "dir", path: "a", mode: 0o750, uid: 33, gid: 33 },
      { type: "dir", path: "a/b", mode: 0o750, uid: 33, gid: 33 },
      { type: "file", path: "a/b/lower", content: "lower\n", uid: 33, gid: 33 },
      { type: "file", path: "lower/delete-me", content: "deleted by layer 3\n" },
      { type: "file", path: "lower/keep", content: "kept\n" },
      { type: "file", path: "lower/recreated", content: "a file, a directory in layer 3\n" },
      { type: "file", path: "lower/dir-to-delete/nested/deep/file", content: "gone\n" },
      { type: "file", path: "lower/dir-to-delete/file2", content: "gone too\n" },
      { type: "file", path: "opaque/old1", content: "hidden by opaque\n" },
      { type: "file", path: "opaque/old2", content: "hidden by opaque\n" },
      { type: "file", path: "opaque/sub/old3", content: "hidden by opaque\n" },
      { type: "file", path: "replace/file-becomes-dir", content: "was a file\n" },
      { type: "file", path: "replace/dir-becomes-file/child.txt", content: "child\n" },
      { type: "file", path: "replace/dir-becomes-file/sub/inner", content: "inner\n" },
      { type: "file", path: "shared/original", content: "linked from layer 4\n", mode: 0o640, uid: 1000, gid: 1000 },
      { type: "file", path: "links/hard1", content: "three names, one inode\n", mode: 0o600, uid: 1000, gid: 100 },
      { type: "hardlink", path: "links/hard2", target: "links/hard1" },
      { type: "hardlink", path: "links/hard3", target: "/links/hard1" },
      { type: "file", path: "owned/www", content: "www-data\n", uid: 33, gid: 33 },
      { type: "file", path: "owned/nobody", content: "nobody\n", mode: 0o600, uid: 65534, gid: 65534 },
      { type: "dir", path: "owned/userdir", uid: 1000, gid: 1000 },
      { type: "file", path: "owned/userdir/user", content: "user\n", uid: 1000, gid: 1000 },
      { type: "file", path: "perm/setuid", content: "#!/bin/sh\n", mode: 0o4755 },
      { type: "file", path: "perm/setgid", content: "#!/bin/sh\n", mode: 0o2755, gid: 100 },
      { type: "file", path: "perm/unreadable", content: "mode 0\n", mode: 0 },
      { type: "dir", path: "perm/sticky", mode: 0o1777 },
      { type: "dir", path: "perm/setgid-dir", mode: 0o2775, gid: 100 },
      { type: "dir", path: "private", mode: 0o700, uid: 1000, gid: 1000 },
      { type: "file", path: "private/secret", content: "secret\n", mode: 0o600, uid: 1000, gid: 1000 },
      { type: "dir", path: "private/nested", mode: 0o700, uid: 1000, gid: 1000 },
      { type: "file", path: "private/nested/deeper", content: "deeper\n", uid: 1000, gid: 1000 },
      { type: "dir", path: "xattr", xattrs: { "user.skiff.dir": "on a directory" } },
      { type: "file", path: "xattr/file", content: "has xattrs\n", xattrs: { "user.skiff.test": "hello", "user.skiff.other": "world" } },
      { type: "fifo", path: "fifo/pipe", mode: 0o600 },
      { type: "file", path: "etc/motd", content: "version 1\n" },
    ],
  };
}

function whiteoutLayer(): LayerSpec {
  return {
    compression: "zstd",
    entries: [
      { type: "whiteout", path: "lower/delete-me" },
      { type: "whiteout", path: "lower/dir-to-delete" },
      { type: "whiteout", path: "lower/never-existed" },
      { type: "whiteout", path: "lower/recreated" },
      { type: "file", path: "lower/recreated/child", content: "now under a directory\n" },
      { type: "opaque", path: "opaque" },
      { type: "file", path: "opaque/new", content: "only this remains\n" },
      { type: "file", path: "replace/file-becomes-dir/child", content: "the file became a directory\n" },
      { type: "file", path: "replace/dir-becomes-file", content: "the directory became a file\n" },
      { type: "file", path: "etc/motd", content: "version 2\n" },
    ],
  };
}

/** No parent entries: a/ and a/b/ keep layer 2's 0750 33:33, shared/ its defaults. */
function noParentsLayer(): LayerSpec {
  return {
    compression: "none",
    parents: "omit",
    entries: [
      { type: "file", path: "a/b/c", content: "parents not in this layer\n" },
      { type: "hardlink", path: "shared/link-to-lower", target: "shared/original" },
      { type: "dir", path: "sym" },
      { type: "symlink", path: "sym/relative", target: "../etc/passwd" },
      { type: "symlink", path: "sym/absolute", target: "/etc/passwd" },
      { type: "symlink", path: "sym/dangling", target: "/nonexistent/target" },
      { type: "symlink", path: "sym/dir", target: "../a/b" },
      { type: "symlink", path: "sym/loop", target: "loop" },
      { type: "symlink", path: "sym/owned", target: "/etc/group", uid: 1000, gid: 1000 },
    ],
  };
}

function namesLayer(): LayerSpec {
  return {
    compression: "gzip",
    entries: [
      { type: "file", path: "empty", content: "" },
      { type: "file", path: UNICODE_NAME, content: "unicode\n" },
      { type: "file", path: "names/.hidden", content: "hidden\n" },
      { type: "file", path: "names/-dash", content: "dash\n" },
      { type: "file", path: PAX_NAME, content: "pax long name\n" },
      { type: "file", path: GNU_NAME, content: "gnu long name\n", longName: "gnu" },
      { type: "file", path: DEEP_PATH, content: "deep\n" },
      { type: "symlink", path: "long/target-link", target: LONG_SYMLINK_TARGET },
      { type: "file", path: "data/random.bin", size: 256 * 1024 },
      { type: "file", path: "data/text.txt", content: textBytes("data/text.txt", 64 * 1024) },
      { type: "dir", path: "private", mode: 0o700, uid: 1000, gid: 1000 },
      { type: "file", path: "private/added-later", content: "added by layer 5\n", mode: 0o600, uid: 1000, gid: 1000 },
    ],
  };
}

/**
 * Five layers (busybox gzip, gzip, zstd, uncompressed, gzip) exercising whiteouts,
 * opaque directories, type changes, hardlinks (in one layer and to a lower layer),
 * symlinks, ownership, special mode bits, xattrs, omitted parents and long names.
 */
export function multiLayerImage(): ImageSpec {
  return {
    layers: [busyboxLayer(), lowerLayer(), whiteoutLayer(), noParentsLayer(), namesLayer()],
    config: {
      Cmd: ["sh"],
      Env: [DEFAULT_PATH, "FIXTURE=multi-layer"],
      WorkingDir: "/a/b",
      Labels: { "org.skiff.fixture": "multi-layer" },
      ExposedPorts: { "8080/tcp": {} },
      StopSignal: "SIGTERM",
    },
  };
}

export const INDEX_PLATFORMS = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"] as const;

/**
 * linux/amd64, linux/arm64/v8, linux/arm/v7 (each busybox + `/platform` holding its
 * platform string, `Cmd: ["cat", "/platform"]`), then an attestation manifest for amd64.
 * busybox is the host's amd64 binary in every platform.
 */
export function multiPlatformIndex(opts: { mediaTypes?: "oci" | "docker" } = {}): IndexSpec {
  const platforms: ImageSpec[] = INDEX_PLATFORMS.map((p) => {
    const [os, architecture, variant] = p.split("/") as [string, string, string | undefined];
    const spec: ImageSpec = {
      os,
      architecture,
      layers: [busyboxLayer(), { compression: "gzip", entries: [{ type: "file", path: "platform", content: `${p}\n` }] }],
      config: { Cmd: ["cat", "/platform"], Env: [DEFAULT_PATH] },
    };
    if (variant !== undefined) spec.variant = variant;
    if (opts.mediaTypes) spec.mediaTypes = opts.mediaTypes;
    return spec;
  });
  const index: IndexSpec = { platforms };
  if (opts.mediaTypes === "docker") index.mediaTypes = "docker";
  else platforms.push({ layers: [], attestationFor: 0 });
  return index;
}

/**
 * Three layers totalling about `mb` MiB uncompressed: thousands of small text files
 * (gzip), a few big pseudo-random files (gzip), big compressible text (zstd).
 */
export function largeImage(mb = 40): ImageSpec {
  const MiB = 1024 * 1024;
  const small: FixtureEntry[] = [];
  const count = Math.max(100, mb * 60);
  for (let i = 0; i < count; i++) {
    const path = `small/d${String(i % 50).padStart(2, "0")}/f${String(i).padStart(5, "0")}.txt`;
    small.push({ type: "file", path, content: textBytes(path, 1024 + ((i * 37) % 3072)) });
  }
  const bigCount = 4;
  const big: FixtureEntry[] = Array.from({ length: bigCount }, (_, i) => ({
    type: "file",
    path: `big/random-${i}.bin`,
    size: Math.floor((mb * 0.5 * MiB) / bigCount),
  }));
  const text: FixtureEntry[] = [
    { type: "file", path: "text/big.txt", content: textBytes("text/big.txt", Math.floor(mb * 0.35 * MiB)) },
    { type: "file", path: "text/random-tail.bin", content: randomBytes("tail", 64 * 1024) },
  ];
  return {
    layers: [
      { compression: "gzip", entries: small },
      { compression: "gzip", entries: big },
      { compression: "zstd", entries: text },
    ],
    config: { Env: [DEFAULT_PATH] },
  };
}
