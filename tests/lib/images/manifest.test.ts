import { describe, expect, test } from "bun:test";
import { isSkiffError } from "../../../lib/errors.ts";
import {
  formatPlatform,
  hostPlatform,
  type ImageIndex,
  isAttestationManifest,
  isForeignLayer,
  layerCompression,
  MANIFEST_ACCEPT,
  MediaType,
  normalizePlatform,
  parseImageConfig,
  parseManifest,
  parsePlatform,
  selectManifest,
} from "../../../lib/images/manifest.ts";

const d = (c: string) => `sha256:${c.repeat(64)}`;

const dockerManifest = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifest,
  config: { mediaType: MediaType.DockerConfig, size: 1469, digest: d("1") },
  layers: [{ mediaType: MediaType.DockerLayerGzip, size: 2220094, digest: d("2") }],
};

const ociManifestNoType = {
  schemaVersion: 2,
  config: { mediaType: MediaType.OciConfig, size: 10, digest: d("3") },
  layers: [
    { mediaType: MediaType.OciLayerZstd, size: 20, digest: d("4"), annotations: { "org.example": "x" } },
  ],
  annotations: { "org.opencontainers.image.created": "2024-01-01T00:00:00Z" },
  futureField: { kept: true },
};

function entry(platform: Record<string, string> | undefined, c: string, extra: Record<string, unknown> = {}) {
  return {
    mediaType: MediaType.OciManifest,
    size: 500,
    digest: d(c),
    ...(platform ? { platform } : {}),
    ...extra,
  };
}

function index(...manifests: ReturnType<typeof entry>[]): ImageIndex {
  const parsed = parseManifest(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
  if (parsed.kind !== "index") throw new Error("not an index");
  return parsed.index;
}

function errorOf(fn: () => unknown): Error & { kind?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { kind?: string };
  }
  throw new Error("expected an error");
}

describe("parseManifest", () => {
  test("docker schema 2 manifest, type from the body", () => {
    const m = parseManifest(new TextEncoder().encode(JSON.stringify(dockerManifest)), "application/json");
    expect(m.kind).toBe("manifest");
    expect(m.mediaType).toBe(MediaType.DockerManifest);
    if (m.kind === "manifest") {
      expect(m.manifest.layers[0]?.digest).toBe(d("2") as never);
      expect(m.manifest.config.size).toBe(1469);
    }
  });

  test("OCI manifest without mediaType: type from the header (with parameters)", () => {
    const m = parseManifest(JSON.stringify(ociManifestNoType), `${MediaType.OciManifest}; charset=utf-8`);
    expect(m.kind).toBe("manifest");
    expect(m.mediaType).toBe(MediaType.OciManifest);
  });

  test("OCI manifest without mediaType or header: type from the shape", () => {
    expect(parseManifest(JSON.stringify(ociManifestNoType)).mediaType).toBe(MediaType.OciManifest);
    const idx = parseManifest(JSON.stringify({ schemaVersion: 2, manifests: [entry({ os: "linux", architecture: "amd64" }, "5")] }), "text/plain");
    expect(idx.kind).toBe("index");
    expect(idx.mediaType).toBe(MediaType.OciIndex);
  });

  test("body mediaType wins over the header", () => {
    const m = parseManifest(JSON.stringify(dockerManifest), MediaType.OciIndex);
    expect(m.kind).toBe("manifest");
    expect(m.mediaType).toBe(MediaType.DockerManifest);
  });

  test("docker manifest list", () => {
    const list = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      manifests: [
        { mediaType: MediaType.DockerManifest, size: 527, digest: d("6"), platform: { architecture: "amd64", os: "linux" } },
        { mediaType: MediaType.DockerManifest, size: 527, digest: d("7"), platform: { architecture: "arm", os: "linux", variant: "v7" } },
      ],
    };
    const m = parseManifest(JSON.stringify(list));
    expect(m.kind).toBe("index");
    if (m.kind === "index") expect(m.index.manifests).toHaveLength(2);
  });

  test("unknown fields survive a round trip", () => {
    const m = parseManifest(JSON.stringify(ociManifestNoType));
    if (m.kind !== "manifest") throw new Error("kind");
    const again = JSON.parse(JSON.stringify(m.manifest));
    expect(again.futureField).toEqual({ kept: true });
    expect(again.layers[0].annotations).toEqual({ "org.example": "x" });
    expect(again).toEqual(ociManifestNoType);
  });

  test("schema 1 is refused clearly, by version or media type", () => {
    const s1 = { schemaVersion: 1, name: "library/busybox", tag: "latest", fsLayers: [], history: [] };
    for (const [body, header] of [
      [s1, undefined],
      [s1, MediaType.DockerSchema1SignedManifest],
      [{ ...s1, schemaVersion: undefined }, MediaType.DockerSchema1SignedManifest],
      [{ ...s1, schemaVersion: 2, mediaType: MediaType.DockerSchema1Manifest }, undefined],
    ] as const) {
      const e = errorOf(() => parseManifest(JSON.stringify(body), header, { name: "docker.io/library/old:1" }));
      expect(isSkiffError(e, "InvalidArgument")).toBe(true);
      expect(e.message).toBe(
        "docker.io/library/old:1 uses the deprecated Docker schema 1 manifest format, which skiff does not support; push it again with a current client",
      );
    }
  });

  test("bad documents give InvalidArgument naming the problem", () => {
    expect(errorOf(() => parseManifest("{nope")).message).toBe("image: manifest: not valid JSON");
    expect(errorOf(() => parseManifest("[]")).message).toMatch(/not a JSON object/);
    const badDigest = { ...dockerManifest, layers: [{ ...dockerManifest.layers[0], digest: "sha256:xyz" }] };
    const e = errorOf(() => parseManifest(JSON.stringify(badDigest), undefined, { name: "x" }));
    expect(e.kind).toBe("InvalidArgument");
    expect(e.message).toBe("x: invalid image manifest: invalid digest at layers.0.digest");
    const negative = { ...dockerManifest, config: { ...dockerManifest.config, size: -1 } };
    expect(errorOf(() => parseManifest(JSON.stringify(negative))).message).toMatch(/at config\.size/);
    expect(errorOf(() => parseManifest(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.artifact.manifest.v1+json" }))).message).toMatch(
      /unsupported manifest media type "application\/vnd.oci.artifact.manifest.v1\+json"/,
    );
    expect(errorOf(() => parseManifest(JSON.stringify({ schemaVersion: 2 }))).message).toMatch(/unsupported manifest media type "\(none\)"/);
    expect(errorOf(() => parseManifest(JSON.stringify({ ...dockerManifest, schemaVersion: 3 }))).message).toMatch(/schemaVersion/);
  });

  test("MANIFEST_ACCEPT lists OCI, Docker and schema 1 types", () => {
    for (const t of [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifest, MediaType.DockerManifestList, MediaType.DockerSchema1SignedManifest]) {
      expect(MANIFEST_ACCEPT).toContain(t);
    }
  });
});

describe("parseImageConfig", () => {
  test("docker config with nulls, healthcheck and history", () => {
    const cfg = parseImageConfig(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        created: "2024-05-01T10:00:00.123456789Z",
        author: "someone",
        config: {
          Env: ["PATH=/usr/bin"],
          Cmd: ["sh"],
          Entrypoint: null,
          Labels: null,
          Volumes: { "/data": {} },
          ExposedPorts: { "80/tcp": {} },
          WorkingDir: "",
          User: "1000:1000",
          StopSignal: "SIGQUIT",
          Healthcheck: { Test: ["CMD", "true"], Interval: 30_000_000_000, Retries: 3 },
          Hostname: "",
        },
        rootfs: { type: "layers", diff_ids: [d("8")] },
        history: [{ created: "2024-05-01T10:00:00Z", created_by: "/bin/sh -c #(nop) ADD file", empty_layer: false }],
        container_config: { Cmd: ["legacy"] },
      }),
    );
    expect(cfg.config?.Entrypoint).toBeNull();
    expect(cfg.config?.Cmd).toEqual(["sh"]);
    expect(cfg.config?.Healthcheck?.Retries).toBe(3);
    expect(cfg.rootfs.diff_ids).toEqual([d("8") as never]);
    expect((cfg as Record<string, unknown>).container_config).toEqual({ Cmd: ["legacy"] });
    expect((cfg.config as Record<string, unknown>).Hostname).toBe("");
  });

  test("bad config names the field", () => {
    const e = errorOf(() => parseImageConfig(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: ["nope"] } }), { name: "img" }));
    expect(e.message).toBe("img: config: invalid digest at rootfs.diff_ids.0");
  });
});

describe("layerCompression", () => {
  test("known layer types", () => {
    expect(layerCompression(MediaType.OciLayer)).toBe("none");
    expect(layerCompression(MediaType.OciLayerGzip)).toBe("gzip");
    expect(layerCompression(MediaType.OciLayerZstd)).toBe("zstd");
    expect(layerCompression(MediaType.OciLayerNondistributableGzip)).toBe("gzip");
    expect(layerCompression(MediaType.DockerLayerGzip)).toBe("gzip");
    expect(layerCompression(MediaType.DockerLayer)).toBe("none");
    expect(layerCompression(MediaType.DockerForeignLayerGzip)).toBe("gzip");
  });

  test("non-layer types are undefined, unknown types are refused", () => {
    expect(layerCompression(MediaType.OciEmpty)).toBeUndefined();
    const e = errorOf(() => layerCompression("application/x-unknown"));
    expect(e.kind).toBe("InvalidArgument");
    expect(e.message).toBe('unsupported layer media type "application/x-unknown"');
  });

  test("foreign layers", () => {
    expect(isForeignLayer(MediaType.DockerForeignLayerGzip)).toBe(true);
    expect(isForeignLayer(MediaType.OciLayerNondistributable)).toBe(true);
    expect(isForeignLayer(MediaType.OciLayerGzip)).toBe(false);
  });
});

describe("platforms", () => {
  test("hostPlatform matches process.arch", () => {
    const p = hostPlatform();
    expect(p.os).toBe("linux");
    const expected: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386" };
    expect(p.architecture).toBe(expected[process.arch] ?? p.architecture);
    if (process.arch === "arm64") expect(p.variant).toBe("v8");
  });

  test("parsePlatform normalises", () => {
    expect(parsePlatform("linux/amd64")).toEqual({ os: "linux", architecture: "amd64" });
    expect(parsePlatform("linux/arm64/v8")).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
    expect(parsePlatform("linux/arm64")).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
    expect(parsePlatform("linux/aarch64")).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
    expect(parsePlatform("linux/arm")).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(parsePlatform("linux/arm/6")).toEqual({ os: "linux", architecture: "arm", variant: "v6" });
    expect(parsePlatform("Linux/X86_64")).toEqual({ os: "linux", architecture: "amd64" });
    expect(parsePlatform("linux/amd64/v1")).toEqual({ os: "linux", architecture: "amd64" });
    expect(parsePlatform("linux/amd64/v3")).toEqual({ os: "linux", architecture: "amd64", variant: "v3" });
    expect(parsePlatform("arm64")).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
    expect(parsePlatform("linux")).toEqual(hostPlatform());
    for (const bad of ["", "linux/", "a/b/c/d", "linux/amd 64", "/amd64"]) {
      const e = errorOf(() => parsePlatform(bad));
      expect(e.kind).toBe("InvalidArgument");
      expect(e.message).toMatch(/expected os\/arch\[\/variant\]/);
    }
  });

  test("normalizePlatform and formatPlatform", () => {
    expect(normalizePlatform({ os: "linux", architecture: "armhf" })).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(normalizePlatform({ os: "linux", architecture: "armel" })).toEqual({ os: "linux", architecture: "arm", variant: "v6" });
    expect(normalizePlatform({ os: "linux", architecture: "i686" })).toEqual({ os: "linux", architecture: "386" });
    expect(normalizePlatform({ os: "linux", architecture: "s390x" })).toEqual({ os: "linux", architecture: "s390x" });
    expect(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" })).toBe("linux/arm/v7");
    expect(formatPlatform({ os: "linux", architecture: "amd64" })).toBe("linux/amd64");
  });
});

describe("selectManifest", () => {
  const amd64 = entry({ os: "linux", architecture: "amd64" }, "a");
  const arm64bare = entry({ os: "linux", architecture: "arm64" }, "b");
  const arm64v8 = entry({ os: "linux", architecture: "arm64", variant: "v8" }, "c");
  const armv7 = entry({ os: "linux", architecture: "arm", variant: "v7" }, "d");
  const armv6 = entry({ os: "linux", architecture: "arm", variant: "v6" }, "e");
  const armv5 = entry({ os: "linux", architecture: "arm", variant: "v5" }, "f");
  const attest = entry({ os: "unknown", architecture: "unknown" }, "9", {
    annotations: { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d("a") },
  });

  test("exact os/arch match", () => {
    expect(selectManifest(index(attest, arm64v8, amd64), parsePlatform("linux/amd64")).digest).toBe(amd64.digest as never);
  });

  test("arm64 with no variant is v8, both ways", () => {
    expect(selectManifest(index(amd64, arm64bare), parsePlatform("linux/arm64/v8")).digest).toBe(arm64bare.digest as never);
    expect(selectManifest(index(amd64, arm64v8), { os: "linux", architecture: "arm64" }).digest).toBe(arm64v8.digest as never);
  });

  test("arm prefers the exact variant, then the closest older one", () => {
    expect(selectManifest(index(armv6, armv7), parsePlatform("linux/arm/v7")).digest).toBe(armv7.digest as never);
    expect(selectManifest(index(armv5, armv6), parsePlatform("linux/arm/v7")).digest).toBe(armv6.digest as never);
    expect(selectManifest(index(armv7), parsePlatform("linux/arm")).digest).toBe(armv7.digest as never);
    expect(() => selectManifest(index(armv7), parsePlatform("linux/arm/v6"))).toThrow(/no image for platform linux\/arm\/v6/);
  });

  test("amd64 levels: v3 runs plain amd64, plain does not run v3", () => {
    const v3 = entry({ os: "linux", architecture: "amd64", variant: "v3" }, "3");
    expect(selectManifest(index(v3, amd64), parsePlatform("linux/amd64/v3")).digest).toBe(v3.digest as never);
    expect(selectManifest(index(amd64), parsePlatform("linux/amd64/v3")).digest).toBe(amd64.digest as never);
    expect(() => selectManifest(index(v3), parsePlatform("linux/amd64"))).toThrow(/available: linux\/amd64\/v3/);
  });

  test("attestations are skipped, even when they would be the only entry", () => {
    expect(isAttestationManifest(attest as never)).toBe(true);
    const e = errorOf(() => selectManifest(index(attest), parsePlatform("linux/amd64")));
    expect(e.kind).toBe("NotFound");
    expect(e.message).toBe("no image for platform linux/amd64 in the index (available: none)");
  });

  test("no match lists the platforms available", () => {
    const e = errorOf(() => selectManifest(index(amd64, arm64v8, armv7, attest), parsePlatform("linux/s390x")));
    expect(e.kind).toBe("NotFound");
    expect(e.message).toBe("no image for platform linux/s390x in the index (available: linux/amd64, linux/arm64/v8, linux/arm/v7)");
  });

  test("an entry without a platform is a last resort", () => {
    const bare = entry(undefined, "0");
    expect(selectManifest(index(bare, amd64), parsePlatform("linux/amd64")).digest).toBe(amd64.digest as never);
    expect(selectManifest(index(bare, amd64), parsePlatform("linux/arm64")).digest).toBe(bare.digest as never);
  });
});
