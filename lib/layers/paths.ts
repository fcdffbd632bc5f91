/**
 * Entry-name safety for layer tars: pure functions, no filesystem access.
 * A tar entry name is turned into a relative path inside the snapshot
 * (`./a//b/` → `a/b`, the root entry `./` → ``) or refused with a reason.
 * Symlinks are a filesystem matter and are checked by the writer.
 */

/** OCI whiteout prefix (image-spec layer.md, "Whiteouts"). */
export const WHITEOUT_PREFIX = ".wh.";
/** Marks the parent directory opaque: lower layers' children are hidden. */
export const OPAQUE_MARKER = ".wh..wh..opq";

export type ParsedName = { ok: true; rel: string } | { ok: false; reason: string };

/**
 * Normalises an entry name (or hardlink target) to a relative path.
 * `rel` is "" for the layer root.
 * @example parseEntryName("./usr//bin/") // { ok: true, rel: "usr/bin" }
 * @example parseEntryName("a/../../x")   // { ok: false, reason: "path contains a .. component" }
 */
export function parseEntryName(name: string): ParsedName {
  if (name.length === 0) return { ok: false, reason: "empty name" };
  if (name.startsWith("/")) return { ok: false, reason: "absolute path" };
  if (name.includes("\0")) return { ok: false, reason: "name contains a NUL byte" };
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") return { ok: false, reason: "path contains a .. component" };
    parts.push(part);
  }
  return { ok: true, rel: parts.join("/") };
}

/** Parent of a relative path ("" for top-level names and for the root). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

export function joinRel(parent: string, name: string): string {
  return parent === "" ? name : `${parent}/${name}`;
}

/** True when `rel` is `dir` itself or lies below it. */
export function isWithin(rel: string, dir: string): boolean {
  if (dir === "") return true;
  return rel === dir || (rel.length > dir.length && rel.startsWith(dir) && rel.charCodeAt(dir.length) === 47);
}

/** The strict ancestors of `rel`, top-down: "a/b/c" → ["a", "a/b"]. */
export function ancestorsOf(rel: string): string[] {
  const out: string[] = [];
  let i = rel.indexOf("/");
  while (i >= 0) {
    out.push(rel.slice(0, i));
    i = rel.indexOf("/", i + 1);
  }
  return out;
}

export type Whiteout =
  | { kind: "none" }
  | { kind: "opaque"; dir: string }
  | { kind: "whiteout"; path: string }
  | { kind: "reserved" }
  | { kind: "invalid"; reason: string };

/**
 * Classifies a normalised entry path by its final component only (a `.wh.`
 * directory higher up is an ordinary name).
 * @example whiteoutOf("etc/.wh.passwd") // { kind: "whiteout", path: "etc/passwd" }
 * @example whiteoutOf("var/.wh..wh..opq") // { kind: "opaque", dir: "var" }
 */
export function whiteoutOf(rel: string): Whiteout {
  const base = baseOf(rel);
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: "none" };
  const dir = parentOf(rel);
  if (base === OPAQUE_MARKER) return { kind: "opaque", dir };
  const name = base.slice(WHITEOUT_PREFIX.length);
  // `.wh..wh.*` is reserved (AUFS metadata such as .wh..wh.plnk); `.wh.` and
  // `.wh..` / `.wh...` would name nothing, the parent or the grandparent.
  if (name.startsWith(WHITEOUT_PREFIX)) return { kind: "reserved" };
  if (name === "" || name === "." || name === "..") return { kind: "invalid", reason: "whiteout names no file" };
  return { kind: "whiteout", path: joinRel(dir, name) };
}
