import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256 } from "../../../../lib/digest.ts";
import { isSkiffError } from "../../../../lib/errors.ts";
import {
  nameFromAnnotations,
  nameFromRepoTag,
  parseDockerManifestJson,
  planArchive,
} from "../../../../lib/images/archive/formats.ts";
import { dockerArchive } from "../../../helpers/images/archive.ts";
import { busyboxImage, DEFAULT_PATH } from "../../../helpers/images/busybox.ts";
import { multiPlatformIndex } from "../../../helpers/images/fixtures.ts";
import { buildImage, imageBlobs } from "../../../helpers/images/image.ts";
import { writeImageLayout } from "../../../helpers/images/layout.ts";
import type { ImageSpec } from "../../../helpers/images/types.ts";
import { cleanupArchives, extracted, makeTar, tarOfDir, tempDir, type TestEntry } from "./helpers.ts";

afterAll(cleanupArchives);

function hex(d: string): string {
  return d.slice(7);
}

function small(content: string): ImageSpec {
  return { layers: [{ compression: "gzip", entries: [{ type: "file", path: "f", content }] }], config: { Env: [DEFAULT_PATH] } };
}

async function expectInvalid(fn: () => unknown, text: string): Promise<void> {
  try {
    await fn();
  } catch (e) {
    expect(isSkiffError(e, "InvalidArgument")).toBe(true);
    expect((e as Error).message).toContain(text);
    return;
  }
  throw new Error(`expected an error containing ${JSON.stringify(text)}`);
}

describe("names", () => {
  test("RepoTags in familiar and full form", () => {
    expect(nameFromRepoTag("busybox:latest")).toBe("docker.io/library/busybox:latest");
    expect(nameFromRepoTag("docker.io/library/busybox:1.36")).toBe("docker.io/library/busybox:1.36");
    expect(nameFromRepoTag("127.0.0.1:5000/app")).toBe("127.0.0.1:5000/app:latest");
    expect(() => nameFromRepoTag("Bad/Name:x")).toThrow();
  });

  test("annotations: containerd name first, then a full ref name; a bare tag names nothing", () => {
    expect(nameFromAnnotations({ "io.containerd.image.name": "docker.io/library/alpine:3", "org.opencontainers.image.ref.name": "3" })).toBe(
      "docker.io/library/alpine:3",
    );
    expect(nameFromAnnotations({ "org.opencontainers.image.ref.name": "busybox:1.0" })).toBe("docker.io/library/busybox:1.0");
    expect(nameFromAnnotations({ "org.opencontainers.image.ref.name": "example.com/app/x" })).toBe("example.com/app/x:latest");
    expect(nameFromAnnotations({ "org.opencontainers.image.ref.name": "1.0" })).toBeUndefined();
    expect(nameFromAnnotations({ "org.opencontainers.image.ref.name": "latest" })).toBeUndefined();
    expect(nameFromAnnotations({ "io.containerd.image.name": "docker.io/library/busybox@sha256:" + "a".repeat(64) })).toBeUndefined();
    expect(nameFromAnnotations(undefined)).toBeUndefined();
  });

  test("manifest.json: RepoTags may be null, unknown fields pass", () => {
    const entries = parseDockerManifestJson('[{"Config":"c.json","RepoTags":null,"Layers":["a.tar"],"Future":1}]');
    expect(entries[0]?.RepoTags).toBeNull();
    expect(() => parseDockerManifestJson("{")).toThrow("not valid JSON");
    expect(() => parseDockerManifestJson('[{"Config":1}]')).toThrow("manifest.json");
  });
});

describe("docker-archive", () => {
  test("Docker 25+: names from RepoTags, its own OCI manifest kept", async () => {
    const spec = busyboxImage();
    const built = await buildImage(spec);
    const plan = planArchive(await extracted(await dockerArchive(spec, "busybox:latest")));
    expect(plan.format).toBe("docker-archive");
    expect(plan.warnings).toEqual([]);
    expect(plan.images).toHaveLength(1);
    const img = plan.images[0];
    expect(img?.names).toEqual(["docker.io/library/busybox:latest"]);
    expect<string | undefined>(img?.config.digest).toBe(built.config.digest);
    expect<string[] | undefined>(img?.layers.map((l) => l.digest)).toEqual(built.layers.map((l) => l.diffId));
    expect(img?.manifest?.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(img?.manifest?.manifest.layers[0]?.mediaType).toBe("application/vnd.oci.image.layer.v1.tar");
  });

  test("legacy (Podman, skopeo): <hex>.tar layers, <hex>.json config, no manifest", async () => {
    const spec = small("legacy");
    const built = await buildImage({ ...spec, mediaTypes: "docker" });
    const plan = planArchive(await extracted(await dockerArchive(spec, "example.com/app:2", { format: "legacy" })));
    expect(plan.format).toBe("docker-archive");
    const img = plan.images[0];
    expect(img?.names).toEqual(["example.com/app:2"]);
    expect(img?.config.name).toBe(`${hex(built.config.digest)}.json`);
    expect(img?.layers.map((l) => l.name)).toEqual([`${hex(built.layers[0]?.diffId ?? "")}.tar`]);
    expect(img?.manifest).toBeUndefined();
  });

  test("layers named through <id>/layer.tar symlinks, untagged images", async () => {
    const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256("tar")] } });
    const entries: TestEntry[] = [
      { name: "abc.tar", type: "file", content: "tar" },
      { name: "c.json", type: "file", content: config },
      { name: "v1id/layer.tar", type: "symlink", linkname: "../abc.tar" },
      { name: "manifest.json", type: "file", content: JSON.stringify([{ Config: "c.json", RepoTags: null, Layers: ["v1id/layer.tar"] }]) },
    ];
    const plan = planArchive(await extracted(await makeTar(entries)));
    expect(plan.images[0]?.names).toEqual([]);
    expect(plan.images[0]?.layers[0]?.name).toBe("abc.tar");
  });

  test("Docker with the containerd store: compressed layers, the platform manifest under an index is matched", async () => {
    const dir = tempDir();
    const layout = await writeImageLayout(dir, { index: { ...multiPlatformIndex(), tag: "latest" } });
    const amd64 = layout.refs[0]?.images[0];
    if (!amd64) throw new Error("fixture has no amd64 image");
    const manifestJson = [
      {
        Config: `blobs/sha256/${hex(amd64.config.digest)}`,
        RepoTags: ["multi:latest"],
        Layers: amd64.layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
      },
    ];
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifestJson));
    const plan = planArchive(await extracted(await tarOfDir(dir)));
    expect(plan.format).toBe("docker-archive");
    expect(plan.images[0]?.names).toEqual(["docker.io/library/multi:latest"]);
    expect<string | undefined>(plan.images[0]?.manifest?.file.digest).toBe(amd64.manifest.digest);
  });

  test("a broken index.json beside manifest.json is only a warning", async () => {
    const tar = await dockerArchive(small("x"), "x:1");
    const a = await extracted(tar);
    writeFileSync(a.file("index.json")?.path ?? "", "{not json");
    // The file's recorded digest is stale now, but index.json is not named by digest.
    const plan = planArchive(a);
    expect(plan.images[0]?.manifest).toBeUndefined();
    expect(plan.warnings[0]).toContain("index.json ignored");
  });

  test("missing members, corrupt blobs and bad names are refused", async () => {
    const missing = await makeTar([{ name: "manifest.json", type: "file", content: '[{"Config":"c.json","RepoTags":[],"Layers":["l.tar"]}]' }]);
    await expectInvalid(async () => planArchive(await extracted(missing)), '"c.json" is not in the archive');

    const bogus = `blobs/sha256/${"0".repeat(64)}`;
    const corrupt = await makeTar([
      { name: bogus, type: "file", content: "not what the name says" },
      { name: "manifest.json", type: "file", content: JSON.stringify([{ Config: bogus, RepoTags: [], Layers: [] }]) },
    ]);
    await expectInvalid(async () => planArchive(await extracted(corrupt)), "is corrupt");

    const badTag = await makeTar([
      { name: "c.json", type: "file", content: "{}" },
      { name: "manifest.json", type: "file", content: JSON.stringify([{ Config: "c.json", RepoTags: ["busybox:no!tag"], Layers: [] }]) },
    ]);
    await expectInvalid(async () => planArchive(await extracted(badTag)), "manifest.json entry 1");

    await expectInvalid(async () => planArchive(await extracted(await makeTar([{ name: "hello.txt", type: "file", content: "hi" }]))), "not an image archive");
  });
});

describe("oci-archive", () => {
  test("several images; names from full ref names, bare tags load untagged", async () => {
    const dir = tempDir();
    const layout = await writeImageLayout(dir, [
      { tag: "latest", spec: small("a") },
      { tag: "busybox:1.0", spec: small("b") },
    ]);
    const plan = planArchive(await extracted(await tarOfDir(dir)));
    expect(plan.format).toBe("oci-archive");
    expect(plan.images.map((i) => i.names)).toEqual([[], ["docker.io/library/busybox:1.0"]]);
    const img = plan.images[1];
    const built = layout.refs[1]?.images[0];
    expect<string | undefined>(img?.manifest?.file.digest).toBe(built?.manifest.digest);
    expect<string[] | undefined>(img?.layers.map((l) => l.digest)).toEqual(built?.layers.map((l) => l.digest));
    expect(img?.layers[0]?.size).toBe(built?.layers[0]?.blob.length);
  });

  test("one manifest under two names is one image", async () => {
    const built = await buildImage(small("same"));
    const desc = { mediaType: built.manifest.mediaType, digest: built.manifest.digest, size: built.manifest.size };
    const index = {
      schemaVersion: 2,
      manifests: [
        { ...desc, annotations: { "io.containerd.image.name": "docker.io/library/a:1", "org.opencontainers.image.ref.name": "1" } },
        { ...desc, annotations: { "org.opencontainers.image.ref.name": "example.com/b:2" } },
      ],
    };
    const entries: TestEntry[] = imageBlobs(built).map((b) => ({ name: `blobs/sha256/${hex(b.digest)}`, type: "file", content: b.bytes }));
    entries.push({ name: "index.json", type: "file", content: JSON.stringify(index) }, { name: "oci-layout", type: "file", content: '{"imageLayoutVersion":"1.0.0"}' });
    const plan = planArchive(await extracted(await makeTar(entries)));
    expect(plan.images).toHaveLength(1);
    expect(plan.images[0]?.names).toEqual(["docker.io/library/a:1", "example.com/b:2"]);
  });

  test("a nested index picks the platform among the manifests present; attestations are skipped", async () => {
    const dir = tempDir();
    const layout = await writeImageLayout(dir, { index: { ...multiPlatformIndex(), tag: "example.com/multi:3" } });
    const tar = await tarOfDir(dir);
    const amd64 = planArchive(await extracted(tar), { platform: { os: "linux", architecture: "amd64" } });
    expect(amd64.images[0]?.names).toEqual(["example.com/multi:3"]);
    expect<string | undefined>(amd64.images[0]?.manifest?.file.digest).toBe(layout.refs[0]?.images[0]?.manifest.digest);
    const arm64 = planArchive(await extracted(tar), { platform: { os: "linux", architecture: "arm64", variant: "v8" } });
    expect<string | undefined>(arm64.images[0]?.manifest?.file.digest).toBe(layout.refs[0]?.images[1]?.manifest.digest);
  });

  test("a manifest whose blob is missing or of the wrong size is refused", async () => {
    const built = await buildImage(small("m"));
    const index = { schemaVersion: 2, manifests: [{ mediaType: built.manifest.mediaType, digest: built.manifest.digest, size: built.manifest.size }] };
    const noBlobs = await makeTar([{ name: "index.json", type: "file", content: JSON.stringify(index) }]);
    await expectInvalid(async () => planArchive(await extracted(noBlobs)), "is not in the archive");
    const wrongSize = { schemaVersion: 2, manifests: [{ ...index.manifests[0], size: 1 }] };
    const entries: TestEntry[] = imageBlobs(built).map((b) => ({ name: `blobs/sha256/${hex(b.digest)}`, type: "file", content: b.bytes }));
    entries.push({ name: "index.json", type: "file", content: JSON.stringify(wrongSize) });
    await expectInvalid(async () => planArchive(await extracted(await makeTar(entries))), "the descriptor says 1");
  });
});
