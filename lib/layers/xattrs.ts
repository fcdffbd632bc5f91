/**
 * Extended attributes of layer entries: read from PAX records, filtered
 * (a layer must never forge overlayfs metadata) and applied without
 * following symlinks.
 */
import { errnoCode, SkiffError } from "../errors.ts";
import { ErrnoError, lgetxattr, llistxattr, lsetxattr } from "../sys/libc.ts";

export interface Xattr {
  name: string;
  value: Uint8Array;
}

/** The opaque-directory xattr of overlayfs mounted with `userxattr`. */
export const OPAQUE_XATTR = "user.overlay.opaque";

const SCHILY = "SCHILY.xattr.";
const LIBARCHIVE = "LIBARCHIVE.xattr.";
const ENOSPC = 28;
const EDQUOT = 122;

/**
 * overlayfs reads its own metadata (whiteouts, opaque dirs, redirects,
 * metacopy) from these namespaces: a layer that set them could hide or
 * redirect files of other layers.
 */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith("user.overlay.") || name.startsWith("trusted.overlay.");
}

/**
 * Xattrs carried in PAX records: `SCHILY.xattr.<name>` (raw value, GNU tar
 * and Go's archive/tar) and `LIBARCHIVE.xattr.<url-encoded name>` (base64).
 * `invalid` lists records that could not be decoded.
 */
export function xattrsFromPax(pax: ReadonlyMap<string, Uint8Array>): { xattrs: Xattr[]; invalid: string[] } {
  const byName = new Map<string, Uint8Array>();
  const invalid: string[] = [];
  for (const [key, value] of pax) {
    if (key.startsWith(SCHILY)) {
      const name = key.slice(SCHILY.length);
      if (name === "") invalid.push(key);
      else byName.set(name, value);
    } else if (key.startsWith(LIBARCHIVE)) {
      let name: string;
      try {
        name = decodeURIComponent(key.slice(LIBARCHIVE.length));
      } catch {
        invalid.push(key);
        continue;
      }
      const text = Buffer.from(value).toString("latin1");
      if (name === "" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
        invalid.push(key);
        continue;
      }
      byName.set(name, Buffer.from(text, "base64"));
    }
  }
  return { xattrs: [...byName].map(([name, value]) => ({ name, value })), invalid };
}

/** Problems that do not fail an unpack: reported once per kind by the caller. */
export type XattrProblem = { kind: "forged"; name: string } | { kind: "failed"; name: string; code: string };

function privileged(name: string): boolean {
  return name.startsWith("trusted.") || (name.startsWith("security.") && name !== "security.capability");
}

/**
 * Sets xattrs on `path` (never following a symlink). Overlay xattrs are
 * dropped; `trusted.*`/`security.*` refused for lack of privilege are
 * expected (rootless) and ignored; other failures are reported; running out
 * of space is fatal.
 * Set them after chown: chown clears `security.capability`.
 */
export function applyXattrs(path: string, xattrs: readonly Xattr[], opts: { report: (p: XattrProblem) => void }): void {
  for (const { name, value } of xattrs) {
    if (isOverlayXattr(name)) {
      opts.report({ kind: "forged", name });
      continue;
    }
    try {
      lsetxattr(path, name, value);
    } catch (e) {
      if (e instanceof ErrnoError && (e.errno === ENOSPC || e.errno === EDQUOT)) throw e;
      const code = errnoCode(e) ?? "error";
      const refused = code === "EPERM" || code === "EACCES" || code === "EOPNOTSUPP" || code === "ENOTSUP";
      if (privileged(name) && refused) continue;
      opts.report({ kind: "failed", name, code });
    }
  }
}

/** Copies all xattrs but overlayfs' own from `src` to `dst` (both lstat'ed, never followed). */
export function copyXattrs(src: string, dst: string, opts: { report: (p: XattrProblem) => void }): void {
  const xattrs: Xattr[] = [];
  for (const name of llistxattr(src)) {
    if (isOverlayXattr(name)) continue;
    const value = lgetxattr(src, name);
    if (value !== undefined) xattrs.push({ name, value });
  }
  applyXattrs(dst, xattrs, opts);
}

export function isOpaque(path: string): boolean {
  const v = lgetxattr(path, OPAQUE_XATTR);
  return v !== undefined && v.length === 1 && v[0] === 0x79; // "y"
}

export function setOpaque(path: string): void {
  try {
    lsetxattr(path, OPAQUE_XATTR, Buffer.from("y"));
  } catch (e) {
    const code = errnoCode(e) ?? "error";
    if (code !== "EOPNOTSUPP" && code !== "ENOTSUP") throw e;
    throw new SkiffError(
      "FailedPrecondition",
      `cannot mark ${path} opaque: its filesystem does not support user xattrs (${code}), which overlayfs with userxattr needs`,
    );
  }
}
