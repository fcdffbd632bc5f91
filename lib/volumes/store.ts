/**
 * Volumes on disk: `volumes/<name>/_data` (what containers see) and
 * `volumes/<name>/meta.json` (VolumeMeta). A volume appears and disappears
 * with one rename(2): create builds `volumes/.tmp-<name>-<rand>/` and
 * renames it into place; remove renames the volume to
 * `volumes/.trash-<name>-<rand>` and then deletes that (through the user
 * namespace rootless, as its files may belong to sub-ids). A crash leaves at
 * worst a dot-directory that no listing shows and that `cleanLeftovers`
 * (called by prune) deletes. One flock per volume name serialises create,
 * copy-up, remove and prune of that name.
 */
import { randomHex } from "../random.ts";
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { errnoCode, SkiffError } from "../errors.ts";
import { atomicWriteJson, ensureDir, readJsonFile } from "../fsutil.ts";
import { withLock } from "../lock.ts";
import { ANONYMOUS_LABEL, createdNow, parseDriverOptions, sameOptions, volumeMetaSchema, type VolumeMeta } from "./meta.ts";
import { newAnonymousName, validateVolumeName, volumeLockPath } from "./names.ts";

export interface CreateVolumeRequest {
  /** Omitted: a random 64-hex name. */
  name?: string | undefined;
  labels?: Record<string, string>;
  /** Driver options (`-o`): see parseDriverOptions. */
  options?: Record<string, string>;
  /** For a container's anonymous mount: labelled as Docker does, removed by `rm -v`. */
  anonymous?: boolean;
}

/** Deletes trees whose files may belong to container ids (ctx.executor.remove). */
export type TreeRemover = (paths: string[]) => Promise<void>;

/** How long a `.tmp-*` directory may belong to a create still under way. */
const TMP_GRACE_MS = 60_000;

export class VolumeStore {
  readonly #dir: string;
  readonly #locks: string;
  readonly #remove: TreeRemover;

  constructor(paths: { volumes: string; locks: string }, remove: TreeRemover) {
    this.#dir = paths.volumes;
    this.#locks = paths.locks;
    this.#remove = remove;
  }

  get root(): string {
    return this.#dir;
  }

  dir(name: string): string {
    return join(this.#dir, name);
  }

  /** Where the volume's own data lives: `volumes/<name>/_data`. */
  dataDir(name: string): string {
    return join(this.#dir, name, "_data");
  }

  /** The host directory a container mounts: `_data`, or the device of a bind volume. */
  sourcePath(meta: VolumeMeta): string {
    const setup = parseDriverOptions(meta.options, meta.name);
    return setup.kind === "bind" ? setup.device : this.dataDir(meta.name);
  }

  /** Runs `fn` holding the volume's lock (other processes and other calls in this one wait). */
  withLock<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    return withLock(volumeLockPath(this.#locks, name), fn);
  }

  /** The volume's record; undefined if there is no such volume. Throws on a corrupt record. */
  read(name: string): VolumeMeta | undefined {
    if (name.startsWith(".") || name.includes("/")) return undefined;
    return readJsonFile(join(this.dir(name), "meta.json"), volumeMetaSchema);
  }

  /** The volume's record; NotFound `no such volume: NAME`. */
  get(name: string): VolumeMeta {
    const meta = this.read(name);
    if (!meta) throw new SkiffError("NotFound", `no such volume: ${name}`);
    return meta;
  }

  exists(name: string): boolean {
    try {
      return this.read(name) !== undefined;
    } catch {
      return true;
    }
  }

  /** Names of every volume directory (a record may still be unreadable). */
  names(): string[] {
    let entries: string[];
    try {
      entries = readdirSync(this.#dir);
    } catch {
      return [];
    }
    return entries.filter((n) => !n.startsWith("."));
  }

  /** Every readable volume; corrupt records are skipped (`volume rm -f` still removes them). */
  list(): VolumeMeta[] {
    const out: VolumeMeta[] = [];
    for (const n of this.names()) {
      try {
        const m = this.read(n);
        if (m) out.push(m);
      } catch {
        // skipped, as container records are
      }
    }
    return out;
  }

  /** Rewrites a volume's record (under its lock). */
  writeMeta(meta: VolumeMeta): void {
    atomicWriteJson(join(this.dir(meta.name), "meta.json"), meta, { mode: 0o600 });
  }

  /**
   * Creates a volume, or returns the existing one of that name when its
   * driver options are the same (as Docker; labels of an existing volume are
   * left as they are). Conflict when they differ.
   */
  async create(req: CreateVolumeRequest): Promise<{ meta: VolumeMeta; created: boolean }> {
    const name = req.name ?? newAnonymousName();
    validateVolumeName(name);
    const options = req.options ?? {};
    parseDriverOptions(options, name);
    return this.withLock(name, () => {
      const existing = this.read(name);
      if (existing) {
        if (!sameOptions(existing.options, options)) {
          throw new SkiffError("Conflict", `create ${name}: a volume with this name already exists with different options`);
        }
        return { meta: existing, created: false };
      }
      return { meta: this.#createLocked(name, req, options), created: true };
    });
  }

  /**
   * The volume `name`, created (with no labels or options) when missing,
   * whatever options an existing one has: for `-v name:/path`.
   */
  async ensure(name: string, opts: { anonymous?: boolean } = {}): Promise<{ meta: VolumeMeta; created: boolean }> {
    validateVolumeName(name);
    return this.withLock(name, () => {
      const existing = this.read(name);
      if (existing) return { meta: existing, created: false };
      return { meta: this.#createLocked(name, { anonymous: opts.anonymous ?? false }, {}), created: true };
    });
  }

  #createLocked(name: string, req: CreateVolumeRequest, options: Record<string, string>): VolumeMeta {
    ensureDir(this.#dir, 0o700);
    const tmp = join(this.#dir, `.tmp-${name}-${randomHex(4)}`);
    const meta: VolumeMeta = {
      schemaVersion: 1,
      name,
      driver: "local",
      labels: { ...(req.labels ?? {}), ...(req.anonymous ? { [ANONYMOUS_LABEL]: "" } : {}) },
      options,
      created: createdNow(),
      anonymous: req.anonymous ?? false,
      mountpoint: this.dataDir(name),
      copiedUp: false,
    };
    try {
      mkdirSync(tmp, { mode: 0o700 });
      // Docker's default for a new volume's root: 0755, owned by container root.
      mkdirSync(join(tmp, "_data"), { mode: 0o755 });
      atomicWriteJson(join(tmp, "meta.json"), meta, { mode: 0o600 });
      renameSync(tmp, this.dir(name));
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      const code = errnoCode(e);
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        throw new SkiffError("Conflict", `create ${name}: ${this.dir(name)} exists but holds no readable volume record`);
      }
      throw e;
    }
    return meta;
  }

  /**
   * Removes a volume. `inUse` lists the containers using it, asked under
   * the volume's lock; a used volume is refused (Conflict) unless `force`.
   * NotFound for a missing volume unless `force` (then nothing happens, as Docker).
   */
  async remove(name: string, opts: { force?: boolean; inUse: (name: string) => string[] }): Promise<boolean> {
    return this.withLock(name, async () => {
      let present: boolean;
      try {
        present = this.read(name) !== undefined;
      } catch (e) {
        // A corrupt record: only a forced removal deletes it.
        if (!opts.force) throw e;
        present = true;
      }
      if (!present) {
        if (opts.force) return false;
        throw new SkiffError("NotFound", `no such volume: ${name}`);
      }
      if (!opts.force) {
        const users = opts.inUse(name);
        if (users.length > 0) throw new SkiffError("Conflict", `remove ${name}: volume is in use - [${users.join(", ")}]`);
      }
      await this.#discard(name);
      return true;
    });
  }

  /** Removes a volume the caller has checked (and locked). */
  async #discard(name: string): Promise<void> {
    const trash = this.trashLocked(name);
    if (trash !== undefined) await this.#remove([trash]);
  }

  /**
   * Takes a volume the caller has checked, holding its lock, out of the
   * namespace at once (a rename); returns the directory left to delete
   * with removeTrees, or undefined when it was gone already. For prune,
   * which deletes all its trash in one go.
   */
  trashLocked(name: string): string | undefined {
    const trash = join(this.#dir, `.trash-${name}-${randomHex(4)}`);
    try {
      renameSync(this.dir(name), trash);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return undefined;
      throw e;
    }
    return trash;
  }

  /** Deletes trees (trash) whose files may belong to container ids. */
  async removeTrees(paths: string[]): Promise<void> {
    if (paths.length > 0) await this.#remove(paths);
  }

  /** Deletes what crashed creates and removals left: `.trash-*`, and `.tmp-*` older than a minute. */
  async cleanLeftovers(now = Date.now()): Promise<void> {
    let entries: string[];
    try {
      entries = readdirSync(this.#dir);
    } catch {
      return;
    }
    const doomed: string[] = [];
    for (const n of entries) {
      const p = join(this.#dir, n);
      if (n.startsWith(".trash-")) doomed.push(p);
      else if (n.startsWith(".tmp-")) {
        try {
          if (now - statSync(p).mtimeMs > TMP_GRACE_MS) doomed.push(p);
        } catch {
          // gone
        }
      }
    }
    if (doomed.length > 0) await this.#remove(doomed);
  }
}

const stores = new WeakMap<Context, VolumeStore>();

/** The context's volume store (built once per context). */
export function volumeStore(ctx: Context): VolumeStore {
  let s = stores.get(ctx);
  if (!s) {
    s = new VolumeStore(ctx.paths, (p) => ctx.executor.remove(p));
    stores.set(ctx, s);
  }
  return s;
}
