/**
 * Unpacking an image archive (docker-archive, oci-archive) into a private
 * temp directory, safely: only regular files and directories are created.
 * Entry names must stay inside the archive (no `..`, no absolute paths).
 * Symlinks and hardlinks are never created; they are remembered as aliases
 * (older `docker save` and skopeo write `<id>/layer.tar -> ../<hex>.tar`) and
 * followed by name, inside the archive, only when a manifest refers to them.
 * Every file is hashed while it is written, so blobs need no second read to
 * be identified.
 */
import { closeSync, constants, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Digester, type Digest } from "../../digest.ts";
import { errnoCode, SkiffError, toSkiffError } from "../../errors.ts";
import { decompress } from "../../layers/decompress.ts";
import { joinRel, parentOf, parseEntryName } from "../../layers/paths.ts";
import { readTar, type ContentSink, type Header, type TarEntry } from "../../layers/tar.ts";

/** A regular file of the archive, on disk. */
export interface ArchiveFile {
  /** Normalised name inside the archive: `blobs/sha256/<hex>`. */
  name: string;
  /** Where it was extracted. */
  path: string;
  size: number;
  digest: Digest;
}

/** What planning needs from an archive: files by name (aliases followed) and their bytes. */
export interface ArchiveView {
  file(name: string): ArchiveFile | undefined;
  readBytes(file: ArchiveFile, maxSize: number): Uint8Array;
}

export type EntryAction =
  | { action: "skip" }
  | { action: "dir"; rel: string }
  | { action: "file"; rel: string }
  | { action: "alias"; rel: string; target: string }
  | { action: "refuse"; reason: string };

const MAX_ALIAS_HOPS = 16;

/**
 * Decides what to do with one archive entry. Pure.
 * @example archiveEntryAction({ name: "../x", type: "file" }) // { action: "refuse", reason: "../x: path contains a .. component" }
 * @example archiveEntryAction({ name: "a/layer.tar", type: "symlink", linkname: "../b.tar" }) // { action: "alias", rel: "a/layer.tar", target: "b.tar" }
 */
export function archiveEntryAction(header: Pick<Header, "name" | "type"> & { linkname?: string | null | undefined }): EntryAction {
  const parsed = parseEntryName(header.name);
  if (!parsed.ok) return { action: "refuse", reason: `${JSON.stringify(header.name)}: ${parsed.reason}` };
  const rel = parsed.rel;
  switch (header.type) {
    case "directory":
      return rel === "" ? { action: "skip" } : { action: "dir", rel };
    case "file":
    case "contiguous-file":
      if (rel === "") return { action: "refuse", reason: `${JSON.stringify(header.name)}: a file cannot be the archive root` };
      return { action: "file", rel };
    case "symlink":
    case "link": {
      const linkname = header.linkname ?? "";
      if (rel === "") return { action: "refuse", reason: `${JSON.stringify(header.name)}: a link cannot be the archive root` };
      if (linkname.startsWith("/")) return { action: "refuse", reason: `${JSON.stringify(header.name)}: link to an absolute path ${JSON.stringify(linkname)}` };
      // Symlink targets are relative to the link's directory, hardlink targets to the archive root.
      const joined = header.type === "symlink" ? joinRel(parentOf(rel), linkname) : linkname;
      const target = resolveLexically(joined);
      if (target === undefined || target === "") {
        return { action: "refuse", reason: `${JSON.stringify(header.name)}: link target ${JSON.stringify(linkname)} is outside the archive` };
      }
      return { action: "alias", rel, target };
    }
    default:
      return { action: "refuse", reason: `${JSON.stringify(header.name)}: ${header.type ?? "unknown"} entries do not belong in an image archive` };
  }
}

/** `a/b/../c` → `a/c`; undefined when `..` climbs above the root. */
function resolveLexically(path: string): string | undefined {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join("/");
}

export class ExtractedArchive implements ArchiveView {
  readonly dir: string;
  readonly #files: Map<string, ArchiveFile>;
  readonly #aliases: Map<string, string>;

  constructor(dir: string, files: Map<string, ArchiveFile>, aliases: Map<string, string>) {
    this.dir = dir;
    this.#files = files;
    this.#aliases = aliases;
  }

  /** The regular file an archive name leads to (following aliases), or undefined. */
  file(name: string): ArchiveFile | undefined {
    const parsed = parseEntryName(name);
    if (!parsed.ok) return undefined;
    let rel = parsed.rel;
    for (let hop = 0; hop <= MAX_ALIAS_HOPS; hop++) {
      const f = this.#files.get(rel);
      if (f) return f;
      const next = this.#aliases.get(rel);
      if (next === undefined) return undefined;
      rel = next;
    }
    return undefined;
  }

  readBytes(file: ArchiveFile, maxSize: number): Uint8Array {
    if (file.size > maxSize) {
      throw new SkiffError("InvalidArgument", `archive member ${file.name} is ${file.size} bytes, over the ${maxSize} limit`);
    }
    return readFileSync(file.path);
  }

  /** Names of all regular files, for messages and tests. */
  names(): string[] {
    return [...this.#files.keys()].sort();
  }
}

/** A name that lands on or under another entry of the wrong type. */
function clash(e: unknown, name: string): unknown {
  const code = errnoCode(e);
  if (code === "ENOTDIR" || code === "EISDIR" || code === "EEXIST" || code === "ELOOP") {
    return new SkiffError("InvalidArgument", `archive entry ${JSON.stringify(name)} clashes with another entry`);
  }
  return e;
}

/**
 * Extracts `input` (a tar, possibly gzip or zstd compressed) into `dir`,
 * which must exist and be empty.
 */
export async function extractArchive(
  input: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  dir: string,
): Promise<ExtractedArchive> {
  const d = await decompress(input, "auto", { what: "archive" });
  const files = new Map<string, ArchiveFile>();
  const aliases = new Map<string, string>();
  let entries = 0;
  let openFd: number | undefined;

  function onEntry(entry: TarEntry): ContentSink | undefined {
    entries += 1;
    const act = archiveEntryAction(entry.header);
    switch (act.action) {
      case "skip":
        return undefined;
      case "refuse":
        throw new SkiffError("InvalidArgument", `archive entry ${act.reason}`);
      case "dir":
        try {
          mkdirSync(join(dir, act.rel), { recursive: true, mode: 0o700 });
        } catch (e) {
          throw clash(e, entry.header.name);
        }
        return undefined;
      case "alias":
        files.delete(act.rel);
        aliases.set(act.rel, act.target);
        return undefined;
      case "file":
        aliases.delete(act.rel);
        return fileSink(act.rel, entry.header.name);
    }
  }

  function fileSink(rel: string, name: string): ContentSink {
    const path = join(dir, rel);
    let fd: number;
    try {
      mkdirSync(join(dir, parentOf(rel)), { recursive: true, mode: 0o700 });
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      throw clash(e, name);
    }
    openFd = fd;
    const digester = new Digester("sha256");
    return {
      write(chunk: Uint8Array): void {
        digester.update(chunk);
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      },
      end(): void {
        closeSync(fd);
        openFd = undefined;
        files.set(rel, { name: rel, path, size: digester.size, digest: digester.digest() });
      },
    };
  }

  try {
    await readTar(d.chunks, onEntry);
  } catch (e) {
    if (e instanceof SkiffError) throw e;
    if (errnoCode(e)) throw toSkiffError(e, "extract archive");
    throw new SkiffError("InvalidArgument", `not a valid tar archive: ${(e as Error).message}`, { cause: e });
  } finally {
    if (openFd !== undefined) closeSync(openFd);
  }
  if (entries === 0) throw new SkiffError("InvalidArgument", "archive is empty");
  return new ExtractedArchive(dir, files, aliases);
}
