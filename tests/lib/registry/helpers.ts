/**
 * What the registry client tests share: credential stores in a scratch
 * directory, small test images made from seeded bytes, and a Bun.serve
 * front that can stand between the client and the real registry.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256, type Digest } from "../../../lib/digest.ts";
import { SkiffError } from "../../../lib/errors.ts";
import { MediaType } from "../../../lib/images/manifest.ts";
import { CredentialStore } from "../../../lib/registry/auth.ts";
import type { RegistryClient, RepositoryRef } from "../../../lib/registry/client.ts";
import type { TestRegistry } from "../../helpers/registry.ts";

/** Credential files in a directory of their own; remove() when the file's tests are done. */
export class Credentials {
  readonly dir = mkdtempSync(join(tmpdir(), "skiff-client-test-"));
  #files = 0;

  /** A store with no credentials. */
  anonymous(): CredentialStore {
    return new CredentialStore([join(this.dir, "none.json")]);
  }

  /** A store holding the registry's user (with `password`, or the right one). */
  storeFor(reg: TestRegistry, password = reg.password): CredentialStore {
    this.#files += 1;
    const store = new CredentialStore([join(this.dir, `auth-${this.#files}.json`)]);
    store.set(reg.host, { username: reg.username ?? "", password: password ?? "" });
    return store;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export interface TestImage {
  layer: Uint8Array;
  layerDigest: Digest;
  config: Uint8Array;
  configDigest: Digest;
  manifest: Uint8Array;
  manifestDigest: Digest;
}

export function makeImage(seed: number, layerSize = 300_000): TestImage {
  const layer = bytesOf(layerSize, seed);
  const layerDigest = sha256(layer);
  const config = new TextEncoder().encode(
    JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [layerDigest] }, seed }),
  );
  const configDigest = sha256(config);
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: layerDigest, size: layer.length }],
    }),
  );
  return { layer, layerDigest, config, configDigest, manifest, manifestDigest: sha256(manifest) };
}

export async function pushImage(client: RegistryClient, repo: RepositoryRef, img: TestImage, tag: string): Promise<Digest> {
  for (const [blob, digest] of [[img.layer, img.layerDigest], [img.config, img.configDigest]] as const) {
    if ((await client.blobExists(repo, digest)) === undefined) {
      await client.uploadBlob(repo, digest, { size: blob.length, open: () => new Blob([blob]) });
    }
  }
  return await client.putManifest(repo, tag, img.manifest, MediaType.OciManifest);
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function caught(p: Promise<unknown>): Promise<SkiffError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SkiffError) return e;
    throw e;
  }
  throw new Error("expected a SkiffError");
}

/** A front proxy: `handle` may answer itself or call `forward` to reach the registry. */
export function startProxy(
  target: string,
  handle: (req: Request, url: URL, forward: (req: Request, path?: string) => Promise<Response>) => Response | Promise<Response>,
): { host: string; server: ReturnType<typeof Bun.serve> } {
  async function forward(req: Request, path?: string): Promise<Response> {
    const url = new URL(req.url);
    const headers = new Headers(req.headers);
    headers.delete("host");
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
    const res = await fetch(`${target}${path ?? url.pathname}${url.search}`, {
      method: req.method,
      headers,
      body,
      redirect: "manual",
      decompress: false,
    });
    return new Response(req.method === "HEAD" ? null : res.body, { status: res.status, headers: res.headers });
  }
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => handle(req, new URL(req.url), forward) });
  return { host: `127.0.0.1:${server.port}`, server };
}
