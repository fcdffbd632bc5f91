/**
 * Container records: containers/<id>/config.json holds what the container is
 * (image, options, storage layout), written once at create; only `name`
 * changes later (rename). Names are reserved with symlinks in
 * containers/.names/<name> → <id>: symlink(2) fails if the name exists, so
 * two concurrent creates can never get the same name, without a global lock.
 */
import { randomBytes, randomHex } from "../random.ts";
import { existsSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { Digest } from "../digest.ts";
import { errnoCode, SkiffError } from "../errors.ts";
import { atomicWriteJson, fsyncFile, parseJsonText, readTextFile } from "../fsutil.ts";
import { tryLock } from "../lock.ts";
import { ContainerConfigSchema } from "../images/manifest.ts";
import { createOptionsSchema } from "./options.ts";
import { RecordCache } from "./record-cache.ts";
import { isContainerTrash } from "./trash.ts";
import { readState, stateFile, stateSchema, type ContainerState } from "./state.ts";
import { appliedResourcesSchema } from "./resources.ts";

const digest = z.lazy(() => z.string().regex(/^sha(256|512):[a-f0-9]+$/)) as unknown as z.ZodType<Digest>;

export const recordSchema = z.lazy(() =>
  z.object({
    schemaVersion: z.literal(1),
    id: z.string().regex(/^[a-f0-9]{64}$/),
    name: z.string(),
    created: z.string(),
    image: z.object({
      /** Image id (config digest). */
      id: digest,
      /** The name the user gave (normalised), shown by ps. */
      name: z.string(),
      /** Chain ids bottom first: the snapshots the root filesystem stacks. */
      chainIds: z.array(digest),
    }),
    /** The image's runtime defaults at create time (Env, Cmd, StopSignal...). */
    imageConfig: ContainerConfigSchema.nullable(),
    options: createOptionsSchema,
    /** OCI runtime: "runc", "crun" or a path. */
    runtime: z.string(),
    rootless: z.boolean(),
    /** How the root filesystem is assembled. */
    driver: z.enum(["overlay", "fuse-overlayfs", "copy"]),
    /** Resource limits in force (options.resources is what was asked); absent in records older than limits. */
    resources: appliedResourcesSchema.optional(),
    /** Set while create is still writing: a crash leaves it for cleanup. */
    incomplete: z.boolean().optional(),
  }),
);

export type ContainerRecord = z.infer<typeof recordSchema>;

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateName(name: string): void {
  if (!NAME_RE.test(name) || name.length > 253) {
    throw new SkiffError("InvalidArgument", `invalid container name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
}

export function newContainerId(): string {
  return randomHex(32);
}

const ADJECTIVES = [
  "agile", "bold", "brave", "bright", "calm", "clever", "cool", "eager", "fast", "fond", "gentle", "happy",
  "keen", "kind", "lucid", "merry", "modest", "neat", "nimble", "noble", "quiet", "quick", "sharp", "steady",
  "sunny", "swift", "tender", "tidy", "vivid", "warm", "wise", "zen",
];
const NOUNS = [
  "albatross", "barge", "beacon", "buoy", "canoe", "compass", "coral", "cutter", "dinghy", "dolphin", "ferry",
  "gull", "harbor", "heron", "inlet", "keel", "kelp", "lagoon", "mast", "oar", "otter", "pelican", "pier",
  "reef", "rudder", "sail", "schooner", "shoal", "skiff", "sloop", "tide", "wharf",
];

export function randomName(): string {
  const a = ADJECTIVES[randomBytes(1)[0]! % ADJECTIVES.length];
  const n = NOUNS[randomBytes(1)[0]! % NOUNS.length];
  return `${a}_${n}`;
}

export class ContainerStore {
  readonly #dir: string;
  readonly #cache: RecordCache;

  constructor(containersDir: string, opts: { memoryCache?: boolean } = {}) {
    this.#dir = containersDir;
    this.#cache = new RecordCache(opts.memoryCache ? undefined : join(containersDir, ".cache.json"), () => new Set(this.ids()));
  }

  get root(): string {
    return this.#dir;
  }

  dir(id: string): string {
    return join(this.#dir, id);
  }

  #namesDir(): string {
    return join(this.#dir, ".names");
  }

  /** Reserves a name for `id`; Conflict if another container has it. */
  reserveName(name: string, id: string): void {
    validateName(name);
    mkdirSync(this.#namesDir(), { recursive: true, mode: 0o700 });
    try {
      symlinkSync(id, join(this.#namesDir(), name));
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
      const owner = this.nameOwner(name);
      if (owner === id) return;
      if (owner && !this.#ownerExists(owner) && this.#takeOver(name, owner, id)) return;
      throw new SkiffError(
        "Conflict",
        `the container name "/${name}" is already in use by container ${owner ?? "unknown"}: remove or rename that container to reuse the name`,
      );
    }
  }

  /**
   * Creates make their directory before they reserve a name, so an owner
   * without one is gone for good (a create or rm that died half-way). Its
   * config.json cannot tell: a live create writes it only after the name.
   */
  #ownerExists(owner: string): boolean {
    return existsSync(this.dir(owner));
  }

  /**
   * Replaces a dead owner's link. Takeovers are serialised by a lock and
   * re-checked under it: two processes can both see the same dead owner, and
   * only the first may win. Returns false when the name is taken after all.
   */
  #takeOver(name: string, deadOwner: string, id: string): boolean {
    const lockPath = join(this.#namesDir(), ".takeover.lock");
    let lock = tryLock(lockPath);
    for (let i = 0; !lock && i < 5000; i++) {
      Bun.sleepSync(1);
      lock = tryLock(lockPath);
    }
    if (!lock) return false;
    try {
      const owner = this.nameOwner(name);
      if (owner === id) return true;
      if (owner !== deadOwner && owner !== undefined && this.#ownerExists(owner)) return false;
      const tmp = join(this.#namesDir(), `.${name}.${process.pid}.${Date.now()}`);
      symlinkSync(id, tmp);
      renameSync(tmp, join(this.#namesDir(), name));
      return true;
    } finally {
      lock.release();
    }
  }

  /** Reserves a generated name, retrying on collisions. */
  reserveRandomName(id: string): string {
    for (let i = 0; i < 64; i++) {
      const name = i < 32 ? randomName() : `${randomName()}_${i}`;
      try {
        this.reserveName(name, id);
        return name;
      } catch (e) {
        if (!(e instanceof SkiffError && e.kind === "Conflict")) throw e;
      }
    }
    throw new SkiffError("Internal", "could not find a free container name");
  }

  releaseName(name: string, id: string): void {
    if (this.nameOwner(name) !== id) return;
    try {
      unlinkSync(join(this.#namesDir(), name));
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
    }
  }

  nameOwner(name: string): string | undefined {
    try {
      return readlinkSync(join(this.#namesDir(), name));
    } catch {
      return undefined;
    }
  }

  exists(id: string): boolean {
    try {
      return this.read(id) !== undefined;
    } catch {
      return false;
    }
  }

  /**
   * `durable: false` skips fsync: for a record still marked incomplete,
   * which a crash may lose (prune tidies the directory), or one the caller
   * makes durable later with sync.
   */
  write(record: ContainerRecord, opts: { durable?: boolean } = {}): void {
    mkdirSync(this.dir(record.id), { recursive: true, mode: 0o700 });
    atomicWriteJson(join(this.dir(record.id), "config.json"), record, { mode: 0o600, noSync: opts.durable === false });
  }

  /** Makes a record written with `durable: false` durable (one removed meanwhile needs nothing). */
  sync(id: string): void {
    try {
      fsyncFile(join(this.dir(id), "config.json"));
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
    }
  }

  /**
   * The record, validated once per distinct text (see RecordCache). A copy:
   * callers change records they then write, and the cached one must keep
   * matching the text it was parsed from.
   */
  read(id: string): ContainerRecord | undefined {
    const path = join(this.dir(id), "config.json");
    const text = readTextFile(path);
    return text === undefined ? undefined : structuredClone(this.#cache.record(id, text, (t) => parseJsonText(path, t, recordSchema)));
  }

  /** Every container id with a directory (records may be incomplete). */
  ids(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return [];
    }
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n));
  }

  /** Directories of removed containers whose deletion was under way (see trash.ts). */
  trashDirs(): string[] {
    try {
      return readdirSync(this.#dir)
        .filter(isContainerTrash)
        .map((n) => join(this.#dir, n));
    } catch {
      return [];
    }
  }

  /** Complete records (a corrupt one is skipped here; `container prune` and rm can still remove it). */
  list(): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    const ids = this.ids();
    for (const id of ids) {
      const path = join(this.dir(id), "config.json");
      try {
        const text = readTextFile(path);
        if (text === undefined) continue;
        const r = this.#cache.record(id, text, (t) => parseJsonText(path, t, recordSchema));
        if (!r.incomplete) out.push(r);
      } catch {
        // skipped; see above
      }
    }
    this.#cache.retain(new Set(ids));
    return out;
  }

  /** A container's stored state, parsed only when state.json changed since last time. */
  cachedState(id: string): ContainerState {
    const path = stateFile(this.dir(id));
    const text = readTextFile(path);
    if (text === undefined) return readState(this.dir(id));
    return this.#cache.state(id, text, (t) => parseJsonText(path, t, stateSchema));
  }

  /**
   * Finds a container by full id, unique id prefix or name. NotFound if none;
   * InvalidArgument if a prefix is ambiguous.
   */
  resolve(input: string): ContainerRecord {
    const trimmed = input.startsWith("/") ? input.slice(1) : input;
    if (/^[a-f0-9]{64}$/.test(trimmed)) {
      const r = this.read(trimmed);
      if (r && !r.incomplete) return r;
    }
    const byName = this.nameOwner(trimmed);
    if (byName) {
      const r = this.read(byName);
      if (r && !r.incomplete && r.name === trimmed) return r;
    }
    if (/^[a-f0-9]+$/.test(trimmed)) {
      const matches = this.ids().filter((id) => id.startsWith(trimmed));
      if (matches.length > 1) throw new SkiffError("InvalidArgument", `multiple containers match the id prefix ${trimmed}`);
      if (matches[0]) {
        const r = this.read(matches[0]);
        if (r && !r.incomplete) return r;
      }
    }
    throw new SkiffError("NotFound", `no such container: ${input}`);
  }

  /** Removes the record directory tree's top-level files; the caller removes owned trees first. */
  removeDir(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }
}
