/**
 * Content-addressed blob store: blobs/sha256/<hex>. Nothing enters it without
 * its digest being checked. Partial downloads live in ingest/<hex>.partial,
 * guarded by a per-digest flock, so two pulls of one blob do the work once
 * and a killed pull resumes where it stopped.
 */
import {
  closeSync,
  createReadStream,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Digester, digestAlgorithm, digestHex, sha256, type Digest } from "../digest.ts";
import { errnoCode, notFound, SkiffError } from "../errors.ts";
import { fsyncDir } from "../fsutil.ts";
import { acquireLock, tryLock, type Lock } from "../lock.ts";

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface ContentPaths {
  blobs: string;
  ingest: string;
  locks: string;
}

export class ContentStore {
  readonly #paths: ContentPaths;

  constructor(paths: ContentPaths) {
    this.#paths = paths;
  }

  /** Path of a committed blob (whether or not it exists). */
  path(d: Digest): string {
    return join(this.#paths.blobs, digestAlgorithm(d), digestHex(d));
  }

  has(d: Digest): boolean {
    try {
      return statSync(this.path(d)).isFile();
    } catch {
      return false;
    }
  }

  /** Size of a committed blob; NotFound when absent. */
  info(d: Digest): BlobInfo {
    try {
      return { digest: d, size: statSync(this.path(d)).size };
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw notFound(`blob ${d} not found`);
      throw e;
    }
  }

  /** Reads a small blob whole and re-verifies it (manifests, configs). */
  readBytes(d: Digest, maxSize = 16 << 20): Buffer {
    let buf: Buffer;
    try {
      const size = statSync(this.path(d)).size;
      if (size > maxSize) throw new SkiffError("InvalidArgument", `blob ${d} is ${size} bytes, over the ${maxSize} limit`);
      buf = readFileSync(this.path(d));
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw notFound(`blob ${d} not found`);
      throw e;
    }
    if (digestAlgorithm(d) === "sha256" && sha256(buf) !== d) {
      throw new SkiffError("Internal", `blob ${d} is corrupt on disk; remove the image and pull it again`);
    }
    return buf;
  }

  readJson(d: Digest, maxSize?: number): unknown {
    return JSON.parse(this.readBytes(d, maxSize).toString("utf8"));
  }

  stream(d: Digest): ReadableStream<Uint8Array> {
    if (!this.has(d)) throw notFound(`blob ${d} not found`);
    return Bun.file(this.path(d)).stream();
  }

  /** Stores bytes already in memory. Returns the digest (sha256 unless `expected` says otherwise). */
  put(data: Uint8Array, expected?: Digest): Digest {
    let d: Digest;
    if (expected && digestAlgorithm(expected) !== "sha256") {
      const h = new Digester(digestAlgorithm(expected));
      h.update(data);
      d = h.digest();
    } else {
      d = sha256(data);
    }
    if (expected && expected !== d) {
      throw new SkiffError("InvalidArgument", `digest mismatch: expected ${expected}, got ${d}`);
    }
    if (this.has(d)) return d;
    const final = this.path(d);
    mkdirSync(join(this.#paths.blobs, digestAlgorithm(d)), { recursive: true });
    mkdirSync(this.#paths.ingest, { recursive: true });
    const tmp = join(this.#paths.ingest, `${digestHex(d)}.${process.pid}.${Date.now()}.put`);
    const fd = openSync(tmp, "w", 0o644);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, final);
    fsyncDir(join(this.#paths.blobs, digestAlgorithm(d)));
    return d;
  }

  /**
   * Opens a writer for a blob about to be downloaded. Waits while another
   * process ingests the same digest. When the blob is already present the
   * writer comes back `complete` and nothing needs fetching.
   */
  async openWriter(expected: { digest: Digest; size?: number }, opts: { onWait?: () => void } = {}): Promise<BlobWriter> {
    const lock = await acquireLock(join(this.#paths.locks, `ingest-${digestHex(expected.digest)}.lock`), opts);
    try {
      if (this.has(expected.digest)) {
        return new BlobWriter({ store: this, lock, expected, partial: "", handle: undefined, digester: undefined, offset: 0, complete: true });
      }
      mkdirSync(this.#paths.ingest, { recursive: true });
      const partial = join(this.#paths.ingest, `${digestHex(expected.digest)}.partial`);
      const digester = new Digester(digestAlgorithm(expected.digest));
      let offset = 0;
      // Resume: hash what a killed pull left, so the final check still covers
      // every byte. A partial longer than the blob is garbage: start over.
      try {
        const st = statSync(partial);
        if (expected.size !== undefined && st.size > expected.size) {
          rmSync(partial, { force: true });
        } else if (st.size > 0) {
          for await (const chunk of createReadStream(partial, { highWaterMark: 1 << 20 })) {
            digester.update(chunk as Buffer);
          }
          offset = st.size;
        }
      } catch (e) {
        if (errnoCode(e) !== "ENOENT") throw e;
      }
      const handle = await open(partial, "a", 0o644);
      return new BlobWriter({ store: this, lock, expected, partial, handle, digester, offset, complete: false });
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** Moves a verified partial into place; used by BlobWriter. */
  commitPartial(partial: string, d: Digest): void {
    const dir = join(this.#paths.blobs, digestAlgorithm(d));
    mkdirSync(dir, { recursive: true });
    renameSync(partial, this.path(d));
    fsyncDir(dir);
  }

  delete(d: Digest): void {
    rmSync(this.path(d), { force: true });
  }

  list(): Digest[] {
    const out: Digest[] = [];
    for (const alg of ["sha256", "sha512"] as const) {
      let names: string[];
      try {
        names = readdirSync(join(this.#paths.blobs, alg));
      } catch {
        continue;
      }
      for (const n of names) out.push(`${alg}:${n}` as Digest);
    }
    return out;
  }

  /** Removes temp files and partials nobody is writing (left by dead processes). */
  cleanIngest(opts: { keepPartials?: boolean } = {}): number {
    let names: string[];
    try {
      names = readdirSync(this.#paths.ingest);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const n of names) {
      const hex = n.split(".")[0] ?? "";
      if (n.endsWith(".partial") && opts.keepPartials) continue;
      const lock = tryLock(join(this.#paths.locks, `ingest-${hex}.lock`));
      if (!lock) continue;
      try {
        if (n.endsWith(".put")) {
          const pid = Number(n.split(".")[1]);
          if (pid && processAlive(pid)) continue;
        }
        rmSync(join(this.#paths.ingest, n), { force: true });
        removed += 1;
      } finally {
        lock.release();
      }
    }
    return removed;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === "EPERM";
  }
}

interface WriterInit {
  store: ContentStore;
  lock: Lock;
  expected: { digest: Digest; size?: number };
  partial: string;
  handle: FileHandle | undefined;
  digester: Digester | undefined;
  offset: number;
  complete: boolean;
}

/**
 * Receives a blob's bytes in order, hashing as they pass. `commit` checks size
 * and digest before the blob becomes visible; `close` keeps the partial for a
 * later resume; `discard` throws it away.
 */
export class BlobWriter {
  readonly #init: WriterInit;
  #written = 0;
  #done = false;

  constructor(init: WriterInit) {
    this.#init = init;
  }

  /** True when the blob was already in the store: nothing to write. */
  get complete(): boolean {
    return this.#init.complete;
  }

  /** Bytes already on disk from an earlier, interrupted download. */
  get offset(): number {
    return this.#init.offset;
  }

  get partialPath(): string {
    return this.#init.partial;
  }

  get size(): number {
    return this.#init.offset + this.#written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const { handle, digester, expected } = this.#init;
    if (!handle || !digester) throw new SkiffError("Internal", "write to a completed blob writer");
    digester.update(chunk);
    this.#written += chunk.length;
    if (expected.size !== undefined && this.size > expected.size) {
      throw new SkiffError("InvalidArgument", `blob ${expected.digest}: more data than the ${expected.size} bytes announced`);
    }
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, off, chunk.length - off);
      off += bytesWritten;
    }
  }

  async commit(): Promise<BlobInfo> {
    const { store, expected, handle, digester, partial } = this.#init;
    if (this.#init.complete) {
      this.#finish();
      return store.info(expected.digest);
    }
    if (!handle || !digester) throw new SkiffError("Internal", "commit of a closed blob writer");
    try {
      if (expected.size !== undefined && digester.size !== expected.size) {
        throw new SkiffError("InvalidArgument", `blob ${expected.digest}: size ${digester.size}, expected ${expected.size}`);
      }
      const actual = digester.digest();
      if (actual !== expected.digest) {
        throw new SkiffError("InvalidArgument", `blob ${expected.digest}: digest mismatch, got ${actual}`);
      }
      await handle.sync();
      await handle.close();
      store.commitPartial(partial, expected.digest);
      return { digest: expected.digest, size: digester.size };
    } catch (e) {
      await handle.close().catch(() => {});
      rmSync(partial, { force: true });
      throw e;
    } finally {
      this.#finish();
    }
  }

  /** Stops writing but keeps the partial so a later pull resumes. */
  async close(): Promise<void> {
    if (this.#done) return;
    await this.#init.handle?.close().catch(() => {});
    this.#finish();
  }

  /** Stops writing and removes the partial (bad data). */
  async discard(): Promise<void> {
    if (this.#done) return;
    await this.#init.handle?.close().catch(() => {});
    if (this.#init.partial) rmSync(this.#init.partial, { force: true });
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#init.lock.release();
  }
}
