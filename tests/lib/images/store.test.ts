/** The image index: its checked-content stamp never lets unchecked content through. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Hex, type Digest } from "../../../lib/digest.ts";
import { ImageStore, type ImageRecord } from "../../../lib/images/store.ts";

const D = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;

function record(id: string): ImageRecord {
  return {
    id: D(id),
    names: [`example.com/app:${id}`],
    repoDigests: [],
    manifestDigest: D("f"),
    manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
    chainIds: [D("e")],
    size: 10,
    added: "2026-11-22T00:00:00Z",
    os: "linux",
    architecture: "amd64",
  };
}

describe("ImageStore", () => {
  let dir: string;
  let store: ImageStore;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "skiff-images-"));
    file = join(dir, "images.json");
    store = new ImageStore({ imagesFile: file, locks: dir });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("what it writes it reads back, marked as checked", async () => {
    await store.put(record("a"));
    expect(store.list().map((i) => i.id)).toEqual([D("a")]);
    expect(readFileSync(`${file}.checked`, "utf8")).toBe(sha256Hex(readFileSync(file, "utf8")));
  });

  test("content changed behind its back is checked again: bad content is refused despite an old mark", async () => {
    await store.put(record("a"));
    const doc = JSON.parse(readFileSync(file, "utf8")) as { images: { size: number }[] };
    (doc.images[0] as { size: number }).size = -1;
    writeFileSync(file, JSON.stringify(doc));
    expect(() => store.list()).toThrow(/images\.json: unexpected content at images\.0\.size/);
  });

  test("good content changed behind its back is checked once, then marked", async () => {
    await store.put(record("a"));
    writeFileSync(file, JSON.stringify({ schemaVersion: 1, images: [record("b")] }));
    expect(store.list().map((i) => i.id)).toEqual([D("b")]);
    expect(readFileSync(`${file}.checked`, "utf8")).toBe(sha256Hex(readFileSync(file, "utf8")));
  });

  test("no file: no images, and no mark", () => {
    expect(store.list()).toEqual([]);
    expect(existsSync(`${file}.checked`)).toBe(false);
  });
});
