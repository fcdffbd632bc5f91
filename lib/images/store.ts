/**
 * Image records: `images.json` maps an image id (its config digest) to the
 * names that point at it and the manifest it came from. Everything else
 * (config, layers) lives in the content store and the snapshots. Writes take
 * the images lock and replace the file atomically; reads need no lock.
 */
import { join } from "node:path";
import { z } from "zod";
import { SkiffError } from "../errors.ts";
import { atomicWrite, parseJsonText, readTextFile } from "../fsutil.ts";
import { sha256Hex, type Digest } from "../digest.ts";
import { acquireLock } from "../lock.ts";

const digest = z.lazy(() => z.string().regex(/^sha(256|512):[a-f0-9]+$/)) as unknown as z.ZodType<Digest>;

export const imageRecordSchema = z.lazy(() =>
  z.object({
    /** Config digest: Docker's image id. */
    id: digest,
    /** Fully qualified tagged names: docker.io/library/busybox:latest. */
    names: z.array(z.string()),
    /** Fully qualified digested names: docker.io/library/busybox@sha256:... */
    repoDigests: z.array(z.string()),
    /** The platform manifest in the content store. */
    manifestDigest: digest,
    manifestMediaType: z.string(),
    /** Chain ids, bottom first: the snapshots this image needs. */
    chainIds: z.array(digest),
    /** Uncompressed size of all layers. */
    size: z.number().int().nonnegative(),
    /** From the image config (may be absent). */
    created: z.string().optional(),
    /** When this store got it. */
    added: z.string(),
    os: z.string(),
    architecture: z.string(),
    variant: z.string().optional(),
  }),
);

export type ImageRecord = z.infer<typeof imageRecordSchema>;

const fileSchema = z.lazy(() =>
  z.object({
    schemaVersion: z.literal(1),
    images: z.array(imageRecordSchema),
  }),
);

type ImageFile = z.infer<typeof fileSchema>;

export class ImageStore {
  readonly #file: string;
  readonly #lockPath: string;
  /**
   * Beside images.json: the SHA-256 of its last content that was checked
   * against the schema (or written from checked records). Reading the same
   * bytes again needs no second check, which would cost every `run` and
   * `images` a millisecond or more; any other content is checked as before.
   */
  readonly #checkedPath: string;

  constructor(paths: { imagesFile: string; locks: string }) {
    this.#file = paths.imagesFile;
    this.#lockPath = join(paths.locks, "images.lock");
    this.#checkedPath = `${paths.imagesFile}.checked`;
  }

  list(): ImageRecord[] {
    const text = readTextFile(this.#file);
    if (text === undefined) return [];
    const sum = sha256Hex(text);
    if (readTextFile(this.#checkedPath) === sum) return (JSON.parse(text) as ImageFile).images;
    const doc = parseJsonText(this.#file, text, fileSchema);
    this.#markChecked(sum);
    return doc.images;
  }

  #markChecked(sum: string): void {
    try {
      atomicWrite(this.#checkedPath, sum, { noSync: true });
    } catch {
      // a store we may only read: every read checks, as before
    }
  }

  get(id: Digest): ImageRecord | undefined {
    return this.list().find((i) => i.id === id);
  }

  /**
   * Read-modify-write under the images lock. `fn` gets a mutable copy and
   * returns a value; the copy is saved if `fn` did not throw.
   */
  async update<T>(fn: (images: ImageRecord[]) => T | Promise<T>): Promise<T> {
    const lock = await acquireLock(this.#lockPath);
    try {
      const images = this.list();
      const result = await fn(images);
      const text = `${JSON.stringify({ schemaVersion: 1, images } satisfies ImageFile, null, 2)}\n`;
      atomicWrite(this.#file, text);
      this.#markChecked(sha256Hex(text));
      return result;
    } finally {
      lock.release();
    }
  }

  /**
   * Adds or refreshes an image and moves `names` to it (a tag points at one
   * image; the image it leaves keeps its other names, or becomes dangling).
   */
  async put(record: ImageRecord): Promise<ImageRecord> {
    return this.update((images) => {
      for (const img of images) {
        if (img.id === record.id) continue;
        img.names = img.names.filter((n) => !record.names.includes(n));
      }
      const existing = images.find((i) => i.id === record.id);
      if (existing) {
        existing.names = union(existing.names, record.names);
        existing.repoDigests = union(existing.repoDigests, record.repoDigests);
        existing.manifestDigest = record.manifestDigest;
        existing.manifestMediaType = record.manifestMediaType;
        return existing;
      }
      images.push(record);
      return record;
    });
  }
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

export function requireImage(images: ImageRecord[], id: Digest): ImageRecord {
  const img = images.find((i) => i.id === id);
  if (!img) throw new SkiffError("NotFound", `image ${id} not found`);
  return img;
}
