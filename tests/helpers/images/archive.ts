/**
 * `docker save`-style archives, in the two shapes skiff must load:
 * - "docker25": what Docker 25+ (graph driver store) writes: an OCI layout with
 *   uncompressed layers (application/vnd.oci.image.layer.v1.tar) under
 *   blobs/sha256/<diff id>, plus manifest.json and repositories.
 * - "legacy": what skopeo/Podman write (containers/image docker/internal/tarfile):
 *   <diff id>.tar layers, <config>.json, one <v1 id>/{layer.tar -> ../x.tar,VERSION,json}
 *   directory per layer, manifest.json, repositories.
 */
import { concatBytes, FIXED_CREATED, hex, sha256, utf8 } from "./bytes.ts";
import { buildImage } from "./image.ts";
import { encodeEntry } from "./layer.ts";
import type { ImageSpec, TarHeader } from "./types.ts";

interface Named {
  /** docker.io/library/busybox */
  name: string;
  tag: string;
  /** busybox */
  familiar: string;
}

/** Docker's normalisation: "busybox:1" → docker.io/library/busybox, tag "1" (no digests). */
export function normalizeRef(ref: string): Named {
  const slash = ref.indexOf("/");
  const first = slash < 0 ? "" : ref.slice(0, slash);
  const hasDomain = first.includes(".") || first.includes(":") || first === "localhost";
  let path = hasDomain ? ref.slice(slash + 1) : ref;
  const colon = path.lastIndexOf(":");
  const tag = colon < 0 ? "latest" : path.slice(colon + 1);
  if (colon >= 0) path = path.slice(0, colon);
  const domain = hasDomain ? first : "docker.io";
  if (!hasDomain && !path.includes("/")) path = `library/${path}`;
  const name = `${domain}/${path}`;
  const familiar = domain !== "docker.io" ? name : path.startsWith("library/") ? path.slice(8) : path;
  return { name, tag, familiar };
}

/** Go's encoding/json escapes these even inside compact output. */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

type Item = { name: string; data?: Uint8Array; symlink?: string; mode?: number; dir?: boolean };

async function tarOf(items: Item[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const it of items) {
    const h: TarHeader = { name: it.name, mode: it.mode ?? 0o644, uid: 0, gid: 0, mtime: new Date(0) };
    if (it.dir) h.type = "directory";
    else if (it.symlink !== undefined) Object.assign(h, { type: "symlink", linkname: it.symlink });
    else h.type = "file";
    parts.push(await encodeEntry(h, it.dir || it.symlink !== undefined ? undefined : (it.data ?? new Uint8Array())));
  }
  parts.push(new Uint8Array(1024));
  return concatBytes(parts);
}

async function docker25(spec: ImageSpec, ref: Named): Promise<Uint8Array> {
  const img = await buildImage({ ...spec, mediaTypes: "oci" });
  const blobs = new Map<string, Uint8Array>();
  const layers = img.layers.map((l) => {
    blobs.set(l.diffId, l.tar);
    return { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: l.diffId, size: l.tar.length };
  });
  // Docker also writes one legacy v1 config per layer; nothing references them.
  let parent = "";
  img.layers.forEach((l, i) => {
    const v1 = utf8(goJson({ id: hex(sha256(`${parent} ${l.diffId}`)), ...(parent ? { parent } : {}), created: i === img.layers.length - 1 ? (spec.created ?? FIXED_CREATED) : "1970-01-01T00:00:00Z", container_config: {}, os: img.platform.os }));
    parent = hex(sha256(v1));
    blobs.set(sha256(v1), v1);
  });
  blobs.set(img.config.digest, img.config.bytes);
  const manifest = utf8(
    goJson({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: img.config.digest, size: img.config.size },
      layers,
    }),
  );
  blobs.set(sha256(manifest), manifest);
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: sha256(manifest),
        size: manifest.length,
        annotations: { "io.containerd.image.name": `${ref.name}:${ref.tag}`, "org.opencontainers.image.ref.name": ref.tag },
      },
    ],
  };
  const manifestJson = [
    {
      Config: `blobs/sha256/${hex(img.config.digest)}`,
      RepoTags: [`${ref.familiar}:${ref.tag}`],
      Layers: img.layers.map((l) => `blobs/sha256/${hex(l.diffId)}`),
    },
  ];
  const top = img.layers[img.layers.length - 1];
  const repositories = top ? { [ref.familiar]: { [ref.tag]: hex(top.diffId) } } : {};
  // Docker tars its temp dir: entries in lexical order, directories included.
  const items: Item[] = [
    { name: "blobs", dir: true, mode: 0o755 },
    { name: "blobs/sha256", dir: true, mode: 0o755 },
    ...[...blobs.keys()].sort().map((d) => ({ name: `blobs/sha256/${hex(d)}`, data: blobs.get(d) })),
    { name: "index.json", data: utf8(goJson(index)) },
    { name: "manifest.json", data: utf8(`${goJson(manifestJson)}\n`) },
    { name: "oci-layout", data: utf8('{"imageLayoutVersion": "1.0.0"}') },
    { name: "repositories", data: utf8(`${goJson(repositories)}\n`) },
  ];
  return tarOf(items);
}

async function legacy(spec: ImageSpec, ref: Named): Promise<Uint8Array> {
  const img = await buildImage({ ...spec, mediaTypes: "docker" });
  const items: Item[] = [];
  const seen = new Set<string>();
  for (const l of img.layers) {
    if (seen.has(l.diffId)) continue;
    seen.add(l.diffId);
    items.push({ name: `${hex(l.diffId)}.tar`, data: l.tar, mode: 0o444 });
  }
  items.push({ name: `${hex(img.config.digest)}.json`, data: img.config.bytes, mode: 0o444 });
  const config = JSON.parse(new TextDecoder().decode(img.config.bytes)) as Record<string, unknown>;
  let chainId = "";
  let last = "";
  const legacyDone = new Set<string>();
  img.layers.forEach((l, i) => {
    const layerConfig: Record<string, unknown> = {};
    if (last) layerConfig.parent = last;
    if (i === img.layers.length - 1) {
      for (const k of ["architecture", "config", "container", "container_config", "created", "docker_version", "os"]) {
        layerConfig[k] = config[k] ?? null;
      }
    }
    chainId = chainId === "" ? l.diffId : sha256(`${chainId} ${l.diffId}`);
    const sorted = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
    const id = hex(sha256(goJson(sorted({ ...layerConfig, layer_id: chainId }))));
    layerConfig.id = id;
    if (!legacyDone.has(id)) {
      legacyDone.add(id);
      items.push({ name: `${id}/layer.tar`, symlink: `../${hex(l.diffId)}.tar`, mode: 0 });
      items.push({ name: `${id}/VERSION`, data: utf8("1.0"), mode: 0o444 });
      items.push({ name: `${id}/json`, data: utf8(goJson(sorted(layerConfig))), mode: 0o444 });
    }
    last = id;
  });
  const manifest = [
    { Config: `${hex(img.config.digest)}.json`, RepoTags: [`${ref.name}:${ref.tag}`], Layers: img.layers.map((l) => `${hex(l.diffId)}.tar`) },
  ];
  items.push({ name: "manifest.json", data: utf8(goJson(manifest)), mode: 0o444 });
  const repositories = last ? { [ref.name]: { [ref.tag]: last } } : {};
  items.push({ name: "repositories", data: utf8(goJson(repositories)), mode: 0o444 });
  return tarOf(items);
}

/** A `docker save`-style tar of one image tagged `ref` ("busybox:latest", "127.0.0.1:5000/x:1"). */
export async function dockerArchive(spec: ImageSpec, ref: string, opts: { format?: "docker25" | "legacy" } = {}): Promise<Uint8Array> {
  const named = normalizeRef(ref);
  return (opts.format ?? "docker25") === "docker25" ? docker25(spec, named) : legacy(spec, named);
}
