import { describe, expect, test } from "bun:test";
import type { Digest } from "../../../lib/digest.ts";
import { BlobPrefetch } from "../../../lib/images/prefetch.ts";
import type { BlobResponse } from "../../../lib/registry/client.ts";

const A = `sha256:${"a".repeat(64)}` as Digest;
const B = `sha256:${"b".repeat(64)}` as Digest;

/** A response whose body records whether it was cancelled. */
function response(): { res: BlobResponse; cancelled: () => boolean } {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull: () => {},
    cancel: () => {
      cancelled = true;
    },
  });
  return { res: { body, offset: 0 }, cancelled: () => cancelled };
}

describe("BlobPrefetch", () => {
  test("a started response is taken once", async () => {
    const p = new BlobPrefetch();
    const r = response();
    let calls = 0;
    p.start(A, async () => (calls++, r.res));
    p.start(A, async () => (calls++, r.res));
    expect(calls).toBe(1);
    expect(await p.take(A)).toBe(r.res);
    expect(await p.take(A)).toBeUndefined();
    expect(await p.take(B)).toBeUndefined();
  });

  test("a failed one reads as not started, so the taker fetches again", async () => {
    const p = new BlobPrefetch();
    p.start(A, async () => {
      throw new Error("boom");
    });
    expect(await p.take(A)).toBeUndefined();
  });

  test("responses nobody took are cancelled; taken ones are not", async () => {
    const p = new BlobPrefetch();
    const a = response();
    const b = response();
    p.start(A, async () => a.res);
    p.start(B, async () => b.res);
    expect(await p.take(A)).toBe(a.res);
    p.dropAll();
    await Bun.sleep(1);
    expect(a.cancelled()).toBe(false);
    expect(b.cancelled()).toBe(true);
    expect(await p.take(B)).toBeUndefined();
  });
});
