/**
 * Layer downloads started as soon as the manifest names them, while the
 * image config (which says how the layers are keyed on disk) is still on
 * its way: that round trip leaves the critical path of a pull. A response
 * nobody takes (its snapshot turned out to exist, or a partial download is
 * resumed instead) is cancelled at the end; a failed one is fetched again
 * by its taker, which then reports the error in its own words.
 */
import type { Digest } from "../digest.ts";
import type { BlobResponse } from "../registry/client.ts";

/** Cancels the body of a response that is no longer wanted, whenever (and if) it arrives. */
export function dropResponse(p: Promise<BlobResponse>): void {
  void p.then((r) => r.body.cancel()).catch(() => {});
}

export class BlobPrefetch {
  readonly #pending = new Map<Digest, Promise<BlobResponse>>();

  start(digest: Digest, fetch: () => Promise<BlobResponse>): void {
    if (this.#pending.has(digest)) return;
    const p = fetch();
    p.catch(() => {}); // taken later, or dropped
    this.#pending.set(digest, p);
  }

  /** The response started for `digest`, once; undefined when none was started or it failed. */
  async take(digest: Digest): Promise<BlobResponse | undefined> {
    const p = this.#pending.get(digest);
    if (!p) return undefined;
    this.#pending.delete(digest);
    try {
      return await p;
    } catch {
      return undefined;
    }
  }

  /** Cancels the response for `digest` if it was not taken. */
  drop(digest: Digest): void {
    const p = this.#pending.get(digest);
    if (!p) return;
    this.#pending.delete(digest);
    dropResponse(p);
  }

  /** Cancels every response not taken. */
  dropAll(): void {
    for (const d of [...this.#pending.keys()]) this.drop(d);
  }
}
