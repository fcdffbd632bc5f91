/**
 * Snapshots: one unpacked layer per chain id, in overlayfs format, shared by
 * every image that has that layer at that position. A snapshot directory is
 * named by the first 16 hex digits of its chain id (short, so overlay's
 * lowerdir list stays well under a page), and its meta.json says whether it
 * is complete. A snapshot is built under a per-chain-id flock: a concurrent
 * pull waits and then reuses it; a pull killed half-way leaves an incomplete
 * one that the next pull throws away and rebuilds.
 */
import { randomHex } from "../random.ts";
import { mkdirSync, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { digestHex, type Digest } from "../digest.ts";
import { SkiffError } from "../errors.ts";
import { atomicWriteJson, exists, readJsonFile } from "../fsutil.ts";
import { acquireLock, tryLock, type Lock } from "../lock.ts";

const digestSchema = z.lazy(() => z.string().regex(/^sha(256|512):[a-f0-9]+$/)) as unknown as z.ZodType<Digest>;

const metaSchema = z.lazy(() =>
  z.object({
    schemaVersion: z.literal(1),
    chainId: digestSchema,
    diffId: digestSchema,
    parent: digestSchema.nullable(),
    state: z.enum(["incomplete", "committed"]),
    size: z.number().int().nonnegative(),
    created: z.string(),
  }),
);

export type SnapshotMeta = z.infer<typeof metaSchema>;

/** Deletes directory trees; rootless this must run inside the user namespace. */
export type TreeRemover = (paths: string[]) => Promise<void>;

export interface SnapshotPaths {
  snapshots: string;
  locks: string;
}

/** A snapshot being built; `fs` is where the layer goes. */
export interface PreparedSnapshot {
  chainId: Digest;
  dir: string;
  fs: string;
  lock: Lock;
}

/** Prefix of a snapshot directory being made, before it is renamed to its key. */
const NEW_PREFIX = ".new-";

export function snapshotKey(chainId: Digest): string {
  return digestHex(chainId).slice(0, 16);
}

export class SnapshotStore {
  readonly #paths: SnapshotPaths;
  readonly #remove: TreeRemover;

  constructor(paths: SnapshotPaths, remove: TreeRemover) {
    this.#paths = paths;
    this.#remove = remove;
  }

  get root(): string {
    return this.#paths.snapshots;
  }

  dir(chainId: Digest): string {
    return join(this.#paths.snapshots, snapshotKey(chainId));
  }

  /** Directory holding the layer's files. */
  fsDir(chainId: Digest): string {
    return join(this.dir(chainId), "fs");
  }

  /** Path relative to the snapshots root, for short overlay option strings. */
  relativeFsDir(chainId: Digest): string {
    return `${snapshotKey(chainId)}/fs`;
  }

  meta(chainId: Digest): SnapshotMeta | undefined {
    const m = readJsonFile(join(this.dir(chainId), "meta.json"), metaSchema);
    if (m && m.chainId !== chainId) {
      throw new SkiffError("Internal", `snapshot ${snapshotKey(chainId)} belongs to ${m.chainId}, not ${chainId}`);
    }
    return m;
  }

  isCommitted(chainId: Digest): boolean {
    try {
      return this.meta(chainId)?.state === "committed";
    } catch {
      return false;
    }
  }

  /**
   * Takes the snapshot's lock and gets an empty directory to unpack into.
   * Returns undefined when a committed snapshot already exists (lock released).
   */
  async prepare(
    chainId: Digest,
    info: { diffId: Digest; parent: Digest | null },
    opts: { onWait?: () => void } = {},
  ): Promise<PreparedSnapshot | undefined> {
    const lock = await acquireLock(this.#lockPath(chainId), opts);
    try {
      const existing = this.#safeMeta(chainId);
      if (existing?.state === "committed") {
        lock.release();
        return undefined;
      }
      const dir = this.dir(chainId);
      // Whatever is here was left by a process that died mid-unpack.
      if (exists(dir)) await this.#discard(dir);
      // Made under a name of its own, then renamed: ext4 picks the block
      // group of a top directory's child from its name (see ensureSpreadDir),
      // and a snapshot's name is the same at every pull of the layer.
      const fresh = join(this.#paths.snapshots, `${NEW_PREFIX}${snapshotKey(chainId)}-${randomHex(6)}`);
      mkdirSync(join(fresh, "fs"), { recursive: true, mode: 0o755 });
      renameSync(fresh, dir);
      atomicWriteJson(join(dir, "meta.json"), {
        schemaVersion: 1,
        chainId,
        diffId: info.diffId,
        parent: info.parent,
        state: "incomplete",
        size: 0,
        created: new Date().toISOString(),
      } satisfies SnapshotMeta);
      return { chainId, dir, fs: join(dir, "fs"), lock };
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** Marks a prepared snapshot complete and releases its lock. */
  commit(prepared: PreparedSnapshot, info: { size: number }): void {
    try {
      const m = this.meta(prepared.chainId);
      if (!m) throw new SkiffError("Internal", `snapshot ${prepared.chainId} vanished while being built`);
      atomicWriteJson(join(prepared.dir, "meta.json"), { ...m, state: "committed", size: info.size } satisfies SnapshotMeta);
    } finally {
      prepared.lock.release();
    }
  }

  /** Throws away a prepared snapshot after a failure and releases its lock. */
  async abort(prepared: PreparedSnapshot): Promise<void> {
    try {
      await this.#discard(prepared.dir);
    } finally {
      prepared.lock.release();
    }
  }

  /** Layer directories for overlay, top-most first, for the chain ending at `chainId`. */
  lowerChain(chainId: Digest): Digest[] {
    const out: Digest[] = [];
    let cur: Digest | null = chainId;
    while (cur) {
      const m = this.meta(cur);
      if (!m || m.state !== "committed") throw new SkiffError("NotFound", `snapshot ${cur} is missing: pull the image again`);
      out.push(cur);
      cur = m.parent;
    }
    return out;
  }

  list(): SnapshotMeta[] {
    let names: string[];
    try {
      names = readdirSync(this.#paths.snapshots);
    } catch {
      return [];
    }
    const out: SnapshotMeta[] = [];
    for (const n of names) {
      if (n.startsWith(".")) continue;
      try {
        const m = readJsonFile(join(this.#paths.snapshots, n, "meta.json"), metaSchema);
        if (m) out.push(m);
      } catch {
        // A corrupt meta is treated as garbage by gc().
      }
    }
    return out;
  }

  /**
   * Removes every snapshot not in `keep` (chain ids), and leftovers of dead
   * builds. Snapshots locked by a running pull are left alone.
   */
  async gc(keep: Set<string>): Promise<number> {
    let names: string[];
    try {
      names = readdirSync(this.#paths.snapshots);
    } catch {
      return 0;
    }
    const keepKeys = new Set([...keep].map((c) => snapshotKey(c as Digest)));
    const victims: { dir: string; lock: Lock }[] = [];
    for (const n of names) {
      if (n.startsWith(".") || keepKeys.has(n)) continue;
      const lockPath = join(this.#paths.locks, `snapshot-${n}.lock`);
      const lock = tryLock(lockPath);
      if (!lock) continue;
      victims.push({ dir: join(this.#paths.snapshots, n), lock });
    }
    try {
      const moved: string[] = [];
      for (const v of victims) {
        const trash = this.#trashName(v.dir);
        renameSync(v.dir, trash);
        moved.push(trash);
      }
      if (moved.length > 0) await this.#remove(moved);
      return victims.length;
    } finally {
      for (const v of victims) v.lock.release();
    }
  }

  /** Removes directories a crashed gc or build moved aside. */
  async cleanTrash(): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(this.#paths.snapshots);
    } catch {
      return;
    }
    const trash = names.filter((n) => n.startsWith(".trash-")).map((n) => join(this.#paths.snapshots, n));
    // A new snapshot's directory before its rename: garbage once nobody holds its lock.
    const held: Lock[] = [];
    for (const n of names.filter((x) => x.startsWith(NEW_PREFIX))) {
      const lock = tryLock(join(this.#paths.locks, `snapshot-${n.slice(NEW_PREFIX.length).split("-")[0]}.lock`));
      if (!lock) continue;
      held.push(lock);
      trash.push(join(this.#paths.snapshots, n));
    }
    try {
      if (trash.length > 0) await this.#remove(trash);
    } finally {
      for (const l of held) l.release();
    }
  }

  #lockPath(chainId: Digest): string {
    return join(this.#paths.locks, `snapshot-${snapshotKey(chainId)}.lock`);
  }

  #safeMeta(chainId: Digest): SnapshotMeta | undefined {
    try {
      return this.meta(chainId);
    } catch {
      return undefined;
    }
  }

  #trashName(dir: string): string {
    return join(this.#paths.snapshots, `.trash-${dir.split("/").pop()}-${process.pid}-${Date.now()}`);
  }

  /** Renames first so a crash mid-delete never leaves a half snapshot under its real name. */
  async #discard(dir: string): Promise<void> {
    const trash = this.#trashName(dir);
    renameSync(dir, trash);
    await this.#remove([trash]);
  }
}
