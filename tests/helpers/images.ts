/**
 * Test images built at test time from local files, independent of skiff's own
 * code: declarative specs (images/types.ts) → layer tars (tar-stream) → OCI
 * layouts → a registry (skopeo), plus the tree a container must see
 * (expectedTree) and a reader for real trees (readTree, compareTrees).
 *
 *   const dir = mkdtempSync(join(tmpdir(), "x-"));
 *   await writeImageLayout(dir, [{ tag: "v1", spec: busyboxImage() }]);
 *   await pushLayout(dir, `${reg.host}/busybox:v1`, { tag: "v1" });
 *   ... skiff pull, unpack ...
 *   expect(compareTrees(expectedTree(busyboxImage()), readTree(rootfs))).toEqual([]);
 *
 * What the registry serves after pushLayout (checked by images.test.ts; skopeo
 * 1.9 with --preserve-digests, so the bytes are exactly those of the layout):
 * - busyboxImage: OCI manifest, one layer tar+gzip.
 * - multiLayerImage: OCI manifest, layers tar+gzip, tar+gzip, tar+zstd, tar
 *   (uncompressed; skopeo would gzip it without --preserve-digests), tar+gzip.
 * - any spec with mediaTypes "docker": application/vnd.docker.distribution.manifest.v2+json,
 *   config application/vnd.docker.container.image.v1+json, layers
 *   application/vnd.docker.image.rootfs.diff.tar.gzip (pushed through skopeo's
 *   dir: transport: its oci: transport ignores non-OCI entries of index.json).
 * - multiPlatformIndex(): OCI index of linux/amd64, linux/arm64/v8, linux/arm/v7
 *   and an unknown/unknown attestation manifest (in-toto layer);
 *   multiPlatformIndex({ mediaTypes: "docker" }): a Docker manifest list of the
 *   three platforms, no attestation.
 */
export * from "./images/archive.ts";
export * from "./images/busybox.ts";
export * from "./images/bytes.ts";
export * from "./images/expected.ts";
export * from "./images/fixtures.ts";
export * from "./images/hostile.ts";
export * from "./images/image.ts";
export * from "./images/layer.ts";
export * from "./images/layout.ts";
export * from "./images/push.ts";
export * from "./images/tree.ts";
export type * from "./images/types.ts";
