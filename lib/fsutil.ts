/**
 * Crash-safe file writes and small filesystem helpers. Every state file skiff
 * writes goes through atomicWrite: temp file, fsync, rename, fsync the
 * directory. A reader sees the old or the new content, never a torn one.
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import type { z } from "zod";
import { errnoCode, SkiffError } from "./errors.ts";
import { markTopDir } from "./sys/libc.ts";

let counter = 0;

export function tempName(path: string): string {
  counter += 1;
  return join(dirname(path), `.${basename(path)}.${process.pid}.${counter}.tmp`);
}

/** Makes a file written earlier without fsync durable, with the directory entry that names it. */
export function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(dirname(path));
}

export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface WriteOptions {
  mode?: number;
  /** Skip fsync: for files that are rebuilt on loss (caches). */
  noSync?: boolean;
}

export function atomicWrite(path: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  const tmp = tempName(path);
  let fd: number;
  try {
    fd = openSync(tmp, "wx", opts.mode ?? 0o644);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
    mkdirSync(dirname(path), { recursive: true });
    fd = openSync(tmp, "wx", opts.mode ?? 0o644);
  }
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (!opts.noSync) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (!opts.noSync) fsyncDir(dirname(path));
}

export function atomicWriteJson(path: string, value: unknown, opts: WriteOptions = {}): void {
  atomicWrite(path, `${JSON.stringify(value, null, 2)}\n`, opts);
}

/** Reads and validates a JSON file; undefined when it does not exist. */
export function readJsonFile<S extends z.ZodTypeAny>(path: string, schema: S): z.infer<S> | undefined {
  const text = readTextFile(path);
  return text === undefined ? undefined : parseJsonText(path, text, schema);
}

/** A file's text; undefined when it does not exist. */
export function readTextFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** Parses and validates JSON read from `path` (named in errors). */
export function parseJsonText<S extends z.ZodTypeAny>(path: string, text: string, schema: S): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SkiffError("Internal", `${path}: corrupt JSON: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SkiffError("Internal", `${path}: unexpected content at ${issue?.path.join(".") || "top"}: ${issue?.message}`);
  }
  return parsed.data;
}

export function ensureDir(path: string, mode = 0o755): void {
  mkdirSync(path, { recursive: true, mode });
}

/**
 * A directory whose children are independent trees that come and go
 * (snapshots, containers): created with ext4's top-directory flag, so each
 * child lands in a block group of its own. On a filesystem without a
 * journal, ext4 steps over every inode freed in the last minute when it
 * allocates one in a group, so creating files where a tree was just deleted
 * costs 0.3-1 ms each instead of 20 us; a fresh group avoids that.
 */
export function ensureSpreadDir(path: string, mode: number): void {
  if (exists(path)) return;
  mkdirSync(path, { recursive: true, mode });
  markTopDir(path);
}

export function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** lstat, or undefined when the path is gone (a tree walk racing a delete); other errors throw. */
export function lstatIfExists(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

export function removeIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
}

/**
 * Makes sure a private directory exists, is a real directory (not a symlink
 * planted by someone else) and is owned by us. Used for run dirs under /tmp.
 */
export function ensurePrivateDir(path: string, uid: number): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (e) {
    if (errnoCode(e) === "ENOENT") {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      mkdirSync(path, { mode: 0o700 });
    } else if (errnoCode(e) !== "EEXIST") throw e;
  }
  const st = lstatSync(path);
  if (!st.isDirectory() || st.uid !== uid) {
    throw new SkiffError("PermissionDenied", `${path} is not a directory owned by uid ${uid}; refusing to use it`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new SkiffError("PermissionDenied", `${path} is accessible by other users; refusing to use it`);
  }
}

/**
 * Reads the complete lines a growing file has past `offset` (a partial last
 * line waits for its newline). A file that shrank is read again from the
 * start. Undefined when the file does not exist. For followers of logs.
 */
export function readNewLines(path: string, offset: number): { text: string; offset: number; ino: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (st.size < offset) offset = 0; // truncated or replaced
    const len = st.size - offset;
    if (len <= 0) return { text: "", offset, ino: st.ino };
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    const text = buf.subarray(0, got).toString("utf8");
    const last = text.lastIndexOf("\n");
    if (last < 0) return { text: "", offset, ino: st.ino };
    const whole = text.slice(0, last + 1);
    return { text: whole, offset: offset + Buffer.byteLength(whole), ino: st.ino };
  } finally {
    closeSync(fd);
  }
}
