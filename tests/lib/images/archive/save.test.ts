import { afterAll, describe, expect, test } from "bun:test";
import { sha256, type Digest } from "../../../../lib/digest.ts";
import { isSkiffError } from "../../../../lib/errors.ts";
import { ociManifestBytes } from "../../../../lib/images/archive/blobs.ts";
import { selectImages } from "../../../../lib/images/archive/save.ts";
import type { ImageRecord } from "../../../../lib/images/store.ts";
import { formatReference } from "../../../../lib/registry/reference.ts";
import { dockerArchive } from "../../../helpers/images/archive.ts";
import { buildImage } from "../../../helpers/images/image.ts";
import type { ImageSpec } from "../../../helpers/images/types.ts";
import { cleanupArchives, extracted } from "./helpers.ts";

afterAll(cleanupArchives);

function record(c: string, names: string[]): ImageRecord {
  return {
    id: `sha256:${c.repeat(64)}` as Digest,
    names,
    repoDigests: [],
    manifestDigest: `sha256:${"f".repeat(64)}` as Digest,
    manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
    chainIds: [],
    size: 0,
    added: "2024-01-01T00:00:00Z",
    os: "linux",
    architecture: "amd64",
  };
}

const images = [
  record("a", ["docker.io/library/busybox:latest", "docker.io/library/busybox:1.36", "example.com/bb:1"]),
  record("b", ["docker.io/library/busybox:old"]),
  record("c", []),
];

function selected(names: string[]): [string, string[]][] {
  return selectImages(images, names).map((s) => [s.image.id.slice(7, 8), s.refs.map((r) => formatReference(r))]);
}

describe("selectImages", () => {
  test("a tag saves that tag only", () => {
    expect(selected(["busybox:1.36"])).toEqual([["a", ["docker.io/library/busybox:1.36"]]]);
  });

  test("a repository without tag saves all its tags", () => {
    expect(selected(["busybox"])).toEqual([
      ["a", ["docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"]],
      ["b", ["docker.io/library/busybox:old"]],
    ]);
  });

  test("ids save the image untagged; names given twice count once", () => {
    expect(selected([`sha256:${"c".repeat(64)}`, "cccccc"])).toEqual([["c", []]]);
    expect(selected(["aaaaaaaaaaaa", "example.com/bb:1", "example.com/bb:1"])).toEqual([["a", ["example.com/bb:1"]]]);
  });

  test("an unknown image is NotFound", () => {
    try {
      selectImages(images, ["nope:1"]);
      throw new Error("not refused");
    } catch (e) {
      expect(isSkiffError(e, "NotFound")).toBe(true);
    }
  });
});

describe("ociManifestBytes", () => {
  test("is byte for byte the manifest Docker 25+ writes for uncompressed layers", async () => {
    const spec: ImageSpec = { layers: [{ compression: "gzip", entries: [{ type: "file", path: "f", content: "x" }] }, { compression: "none", entries: [{ type: "dir", path: "d" }] }] };
    const built = await buildImage(spec);
    const archive = await extracted(await dockerArchive(spec, "x:1"));
    const indexFile = archive.file("index.json");
    if (!indexFile) throw new Error("no index.json in the fixture archive");
    const index = JSON.parse(new TextDecoder().decode(archive.readBytes(indexFile, 1 << 20))) as { manifests: { digest: string }[] };
    const ours = ociManifestBytes(
      { digest: built.config.digest as Digest, size: built.config.size },
      built.layers.map((l) => ({ digest: l.diffId as Digest, size: l.tar.length, compression: "none" as const })),
    );
    expect(sha256(ours)).toBe(index.manifests[0]?.digest as Digest);
  });
});
