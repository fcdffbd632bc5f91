/**
 * The declarative fixture model: what a test image contains, independent of
 * how it is encoded. Paths may be written with or without a leading "/";
 * they are always relative to the image root.
 */
import type { Header } from "tar-stream";

interface Owned {
  uid?: number;
  gid?: number;
}

interface Attributes extends Owned {
  /** Permission bits including setuid/setgid/sticky; defaults 0o644 (file), 0o755 (dir). */
  mode?: number;
  /** Seconds since the epoch; defaults to FIXED_MTIME. */
  mtime?: number;
  /** Written as PAX `SCHILY.xattr.<name>` records. */
  xattrs?: Record<string, string>;
}

export interface FileEntry extends Attributes {
  type: "file";
  path: string;
  content?: string | Uint8Array;
  /** Deterministic pseudo-random bytes (seeded by the path) when no content is given. */
  size?: number;
  /** "gnu" writes the name as a GNU `././@LongLink` record instead of PAX when it does not fit ustar. */
  longName?: "pax" | "gnu";
}

export interface DirEntry extends Attributes {
  type: "dir";
  path: string;
}

export interface SymlinkEntry extends Owned {
  type: "symlink";
  path: string;
  target: string;
  mtime?: number;
}

export interface HardlinkEntry {
  type: "hardlink";
  path: string;
  /** Another path in the image (this layer, earlier, or a lower layer). */
  target: string;
}

export interface WhiteoutEntry {
  type: "whiteout";
  /** The path to delete; written as `dir/.wh.name`. */
  path: string;
}

export interface OpaqueEntry {
  type: "opaque";
  /** The directory whose lower contents are hidden; written as `dir/.wh..wh..opq`. */
  path: string;
}

export interface NodeEntry extends Owned {
  type: "fifo" | "chardev" | "blockdev";
  path: string;
  major?: number;
  minor?: number;
  mode?: number;
}

/** A tar-stream header; `pax` holds extra PAX records (e.g. `SCHILY.xattr.user.x`). */
export type TarHeader = Partial<Omit<Header, "pax">> & { name: string; pax?: Record<string, string> };

/** An entry written verbatim, any name allowed: for hostile layers. expectedTree ignores it. */
export interface RawEntry {
  type: "raw";
  header: Partial<TarHeader>;
  content?: Uint8Array;
}

export type FixtureEntry =
  | FileEntry
  | DirEntry
  | SymlinkEntry
  | HardlinkEntry
  | WhiteoutEntry
  | OpaqueEntry
  | NodeEntry
  | RawEntry;

export type Compression = "gzip" | "zstd" | "none";

export interface LayerSpec {
  entries: FixtureEntry[];
  compression: Compression;
  /**
   * "auto" (default): a directory entry (0755, 0:0) is written before the first
   * entry under a directory the layer has not written yet. "omit": only the
   * entries listed, so lower-layer parents keep their metadata.
   */
  parents?: "auto" | "omit";
}

export interface ImageConfigSpec {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  StopSignal?: string;
  Volumes?: Record<string, Record<string, never>>;
}

export interface ImageSpec {
  layers: LayerSpec[];
  config?: ImageConfigSpec;
  os?: string;
  architecture?: string;
  variant?: string;
  /** "oci" (default) or Docker schema 2 media types. */
  mediaTypes?: "oci" | "docker";
  /** RFC 3339; defaults to FIXED_CREATED. */
  created?: string;
  /** Annotations on this image's descriptor in an index. */
  annotations?: Record<string, string>;
  /**
   * Makes this entry a BuildKit-style attestation manifest for the platform at
   * this position of the same index (platform unknown/unknown, one in-toto layer).
   * Its `layers` are ignored.
   */
  attestationFor?: number;
}

export interface IndexSpec {
  platforms: ImageSpec[];
  /** "oci" (default): an OCI image index; "docker": a Docker manifest list. */
  mediaTypes?: "oci" | "docker";
  annotations?: Record<string, string>;
}

export interface BuiltLayer {
  /** The uncompressed tar. */
  tar: Uint8Array;
  /** The blob as stored in a registry (compressed unless compression is "none"). */
  blob: Uint8Array;
  diffId: string;
  digest: string;
  mediaType: string;
}

export type TreeNodeType = "file" | "dir" | "symlink" | "fifo" | "chardev" | "blockdev" | "socket";

export interface TreeNode {
  type: TreeNodeType;
  /** Permission bits including setuid/setgid/sticky (0o777 for symlinks). */
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target. */
  target?: string;
  /** Files: `sha256:<hex>` of the content. */
  sha256?: string;
  size?: number;
  /** user.* xattrs only (user.overlay.* excluded). */
  xattrs?: Record<string, string>;
  /** Files with more than one name in the tree: the smallest of those names. */
  hardlink?: string;
}

export type Tree = Map<string, TreeNode>;

/** One range of an id mapping, as in /proc/PID/uid_map: container id → host id. */
export interface IdRange {
  containerId: number;
  hostId: number;
  size: number;
}

export interface IdMap {
  uid: IdRange[];
  gid: IdRange[];
}
