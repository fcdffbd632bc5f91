/**
 * RegistryClient against the real CNCF distribution registry on 127.0.0.1,
 * with no auth, htpasswd and token auth. Small Bun.serve front proxies stand
 * between the client and the registry where a test needs the registry to
 * misbehave (redirects, 5xx, ignored Range, tampered bytes); everything else
 * is the registry's own behaviour.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256, type Digest } from "../../../lib/digest.ts";
import { SkiffError } from "../../../lib/errors.ts";
import { MediaType, parseManifest } from "../../../lib/images/manifest.ts";
import { CredentialStore, encodeAuth } from "../../../lib/registry/auth.ts";
import { digestBytes, RegistryClient, type RepositoryRef } from "../../../lib/registry/client.ts";
import { RegistryTransport } from "../../../lib/registry/transport.ts";
import { freePort, registrySkipReason, startRegistry, type TestRegistry } from "../../helpers/registry.ts";

const skipReason = registrySkipReason();
if (skipReason) console.warn(`skipping registry client tests: ${skipReason}`);

const tmp = mkdtempSync(join(tmpdir(), "skiff-client-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function anonymous(): CredentialStore {
  return new CredentialStore([join(tmp, "none.json")]);
}

let credFiles = 0;
function storeFor(reg: TestRegistry, password = reg.password): CredentialStore {
  credFiles += 1;
  const store = new CredentialStore([join(tmp, `auth-${credFiles}.json`)]);
  store.set(reg.host, { username: reg.username ?? "", password: password ?? "" });
  return store;
}

function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

interface TestImage {
  layer: Uint8Array;
  layerDigest: Digest;
  config: Uint8Array;
  configDigest: Digest;
  manifest: Uint8Array;
  manifestDigest: Digest;
}

function makeImage(seed: number, layerSize = 300_000): TestImage {
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

async function pushImage(client: RegistryClient, repo: RepositoryRef, img: TestImage, tag: string): Promise<Digest> {
  for (const [blob, digest] of [[img.layer, img.layerDigest], [img.config, img.configDigest]] as const) {
    if ((await client.blobExists(repo, digest)) === undefined) {
      await client.uploadBlob(repo, digest, { size: blob.length, open: () => new Blob([blob]) });
    }
  }
  return await client.putManifest(repo, tag, img.manifest, MediaType.OciManifest);
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function caught(p: Promise<unknown>): Promise<SkiffError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SkiffError) return e;
    throw e;
  }
  throw new Error("expected a SkiffError");
}

/** A front proxy: `handle` may answer itself or call `forward` to reach the registry. */
function startProxy(
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

test("digestBytes verifies manifest bytes against a digest", () => {
  const bytes = new TextEncoder().encode('{"schemaVersion":2}');
  expect(digestBytes(bytes)).toBe(sha256(bytes));
  expect(digestBytes(bytes, sha256(bytes))).toBe(sha256(bytes));
  const other = sha256("other");
  expect(() => digestBytes(bytes, other)).toThrow(`digest mismatch: expected ${other}, got ${sha256(bytes)}`);
  const h = new Bun.CryptoHasher("sha512").update(bytes).digest("hex");
  expect(digestBytes(bytes, `sha512:${h}`)).toBe(`sha512:${h}`);
});

test("plain http only for loopback, listed registries or tlsVerify false", () => {
  const t = new RegistryTransport({ credentials: anonymous(), insecureRegistries: ["my.reg:5000", "https://other.reg/"] });
  expect(t.isInsecure("127.0.0.1:5000")).toBe(true);
  expect(t.isInsecure("localhost")).toBe(true);
  expect(t.isInsecure("my.reg:5000")).toBe(true);
  expect(t.isInsecure("my.reg:5001")).toBe(false);
  expect(t.isInsecure("other.reg:443")).toBe(true);
  expect(t.isInsecure("docker.io")).toBe(false);
  expect(new RegistryTransport({ credentials: anonymous(), tlsVerify: false }).isInsecure("docker.io")).toBe(true);
});

describe.skipIf(skipReason !== undefined)("registry without auth", () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  let repo: RepositoryRef;
  const img = makeImage(1);
  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ credentials: anonymous() });
    repo = { registry: reg.host, repository: "test/app" };
  });
  afterAll(async () => reg?.stop());

  test("push, then read back by tag and digest", async () => {
    expect(await client.blobExists(repo, img.layerDigest)).toBeUndefined();
    const digest = await pushImage(client, repo, img, "v1");
    expect(digest).toBe(img.manifestDigest);
    expect(await client.blobExists(repo, img.layerDigest)).toBe(img.layer.length);

    const byTag = await client.getManifest(repo, "v1");
    expect(byTag.digest).toBe(img.manifestDigest);
    expect(byTag.mediaType).toBe(MediaType.OciManifest);
    expect(byTag.bytes).toEqual(img.manifest);
    const parsed = parseManifest(byTag.bytes, byTag.mediaType);
    expect(parsed.kind).toBe("manifest");

    const byDigest = await client.getManifest(repo, img.manifestDigest);
    expect(byDigest.digest).toBe(img.manifestDigest);
    expect(byDigest.bytes).toEqual(img.manifest);

    expect(await client.headManifest(repo, "v1")).toEqual({
      digest: img.manifestDigest,
      mediaType: MediaType.OciManifest,
      size: img.manifest.length,
    });
    expect(await client.headManifest(repo, "missing")).toBeUndefined();

    const blob = await client.getBlob(repo, img.layerDigest);
    expect(blob.offset).toBe(0);
    expect(blob.size).toBe(img.layer.length);
    expect(await readAll(blob.body)).toEqual(img.layer);
  });

  test("resume a blob with Range", async () => {
    await pushImage(client, repo, img, "v1");
    const blob = await client.getBlob(repo, img.layerDigest, { offset: 123_456 });
    expect(blob.offset).toBe(123_456);
    expect(blob.size).toBe(img.layer.length);
    expect(await readAll(blob.body)).toEqual(img.layer.subarray(123_456));
  });

  test("404s map to NotFound naming the object", async () => {
    const m = await caught(client.getManifest(repo, "nope"));
    expect(m.kind).toBe("NotFound");
    expect(m.message).toBe(`${reg.host}/test/app:nope: manifest unknown`);
    const missing = sha256("missing");
    const b = await caught(client.getBlob(repo, missing));
    expect(b.kind).toBe("NotFound");
    expect(b.message).toBe(`${reg.host}/test/app@${missing}: blob unknown`);
    const r = await caught(client.getManifest({ registry: reg.host, repository: "no/such" }, "latest"));
    expect(r.kind).toBe("NotFound");
  });

  test("bad references are refused before any request", async () => {
    const e = await caught(client.getManifest(repo, "bad tag"));
    expect(e.kind).toBe("InvalidArgument");
  });

  test("upload from a stream; the registry checks the digest", async () => {
    const data = bytesOf(70_000, 7);
    const d = sha256(data);
    await client.uploadBlob(repo, d, { size: data.length, open: () => new Blob([data]).stream() });
    expect(await client.blobExists(repo, d)).toBe(data.length);
    const wrong = sha256("something else");
    const e = await caught(client.uploadBlob(repo, wrong, { size: data.length, open: () => new Blob([data]) }));
    expect(e.kind).toBe("InvalidArgument");
    expect(e.message).toContain("digest");
  });

  test("putManifest: by digest must match, blobs must exist", async () => {
    const e = await caught(client.putManifest(repo, sha256("x"), img.manifest, MediaType.OciManifest));
    expect(e.kind).toBe("InvalidArgument");
    expect(e.message).toMatch(/digest mismatch/);
    const orphan = makeImage(99);
    const e2 = await caught(client.putManifest(repo, "orphan", orphan.manifest, MediaType.OciManifest));
    expect(e2.kind).toBe("InvalidArgument");
    expect(e2.message).toMatch(/blob unknown/);
    expect(await client.putManifest(repo, img.manifestDigest, img.manifest, MediaType.OciManifest)).toBe(img.manifestDigest);
  });

  test("index: push and read back", async () => {
    const other = makeImage(2, 1000);
    await pushImage(client, repo, img, "v1");
    await pushImage(client, repo, other, "other");
    const index = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [
          { mediaType: MediaType.OciManifest, digest: img.manifestDigest, size: img.manifest.length, platform: { os: "linux", architecture: "amd64" } },
          { mediaType: MediaType.OciManifest, digest: other.manifestDigest, size: other.manifest.length, platform: { os: "linux", architecture: "arm64" } },
        ],
      }),
    );
    const d = await client.putManifest(repo, "multi", index, MediaType.OciIndex);
    const got = await client.getManifest(repo, "multi");
    expect(got.digest).toBe(d);
    expect(got.mediaType).toBe(MediaType.OciIndex);
    const parsed = parseManifest(got.bytes, got.mediaType);
    expect(parsed.kind).toBe("index");
  });

  test("mount across repositories", async () => {
    await pushImage(client, repo, img, "v1");
    const dst = { registry: reg.host, repository: "test/copy" };
    expect(await client.blobExists(dst, img.layerDigest)).toBeUndefined();
    expect(await client.mountBlob(dst, img.layerDigest, "test/app")).toBe(true);
    expect(await client.blobExists(dst, img.layerDigest)).toBe(img.layer.length);
    // Unknown blob: the registry opens an upload instead, which is cancelled.
    expect(await client.mountBlob(dst, sha256("nowhere"), "test/app")).toBe(false);
  });

  test("a cancelled download reports Canceled", async () => {
    const ctl = new AbortController();
    ctl.abort();
    const e = await caught(client.getBlob(repo, img.layerDigest, { signal: ctl.signal }));
    expect(e.kind).toBe("Canceled");
  });

  test("unreachable registry: Unavailable after retries", async () => {
    const port = await freePort();
    const started = Date.now();
    const e = await caught(client.getManifest({ registry: `127.0.0.1:${port}`, repository: "x" }, "latest"));
    expect(e.kind).toBe("Unavailable");
    expect(e.message).toBe(`127.0.0.1:${port}: connection refused`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500); // 200 + 400 ms of backoff
  });
});

describe.skipIf(skipReason !== undefined)("registry behind a misbehaving front", () => {
  let reg: TestRegistry;
  let repo: RepositoryRef;
  const img = makeImage(3);
  const proxies: ReturnType<typeof Bun.serve>[] = [];
  beforeAll(async () => {
    reg = await startRegistry();
    repo = { registry: reg.host, repository: "front/app" };
    await pushImage(new RegistryClient({ credentials: anonymous() }), repo, img, "v1");
  });
  afterAll(async () => {
    for (const p of proxies) p.stop(true);
    await reg?.stop();
  });

  function front(handle: Parameters<typeof startProxy>[1]): { client: RegistryClient; repo: RepositoryRef } {
    const p = startProxy(reg.url, handle);
    proxies.push(p.server);
    return { client: new RegistryClient({ credentials: anonymous() }), repo: { registry: p.host, repository: repo.repository } };
  }

  test("5xx and 429 are retried for GET, 4xx are not", async () => {
    const counts = { blob: 0, manifest: 0, missing: 0 };
    const f = front((req, url, forward) => {
      if (url.pathname.includes("/blobs/")) {
        counts.blob += 1;
        if (counts.blob === 1) return new Response("busy", { status: 503 });
        if (counts.blob === 2) return new Response("slow down", { status: 429, headers: { "retry-after": "0" } });
      }
      if (url.pathname.endsWith("/manifests/v1")) {
        counts.manifest += 1;
        return new Response("down", { status: 500 });
      }
      if (url.pathname.endsWith("/manifests/missing")) counts.missing += 1;
      return forward(req);
    });
    const blob = await f.client.getBlob(f.repo, img.layerDigest);
    expect(await readAll(blob.body)).toEqual(img.layer);
    expect(counts.blob).toBe(3);

    const e = await caught(f.client.getManifest(f.repo, "v1"));
    expect(e.kind).toBe("Unavailable");
    expect(e.message).toBe(`${f.repo.registry}/front/app:v1: unexpected http status 500`);
    expect(counts.manifest).toBe(3);

    await caught(f.client.getManifest(f.repo, "missing"));
    expect(counts.missing).toBe(1);
  });

  test("a registry that ignores Range: offset 0", async () => {
    const f = front((req, _url, forward) => {
      const headers = new Headers(req.headers);
      headers.delete("range");
      return forward(new Request(req.url, { method: req.method, headers }));
    });
    const blob = await f.client.getBlob(f.repo, img.layerDigest, { offset: 1000 });
    expect(blob.offset).toBe(0);
    expect(await readAll(blob.body)).toEqual(img.layer);
  });

  test("tampered manifest bytes fetched by digest are refused", async () => {
    const f = front(async (req, url, forward) => {
      const res = await forward(req);
      if (!url.pathname.includes("/manifests/sha256:") || req.method !== "GET") return res;
      const text = (await res.text()).replace('"schemaVersion":2', '"schemaVersion": 2');
      return new Response(text, { status: res.status, headers: { "content-type": res.headers.get("content-type") ?? "" } });
    });
    const e = await caught(f.client.getManifest(f.repo, img.manifestDigest));
    expect(e.kind).toBe("InvalidArgument");
    expect(e.message).toStartWith(`${f.repo.registry}/front/app@${img.manifestDigest}: manifest: digest mismatch`);
  });

  test("manifests over 4 MiB are refused, with or without Content-Length", async () => {
    const big = new Uint8Array((4 << 20) + 1).fill(32);
    const f = front((req, url, forward) => {
      if (url.pathname.endsWith("/manifests/big")) return new Response(big);
      if (url.pathname.endsWith("/manifests/stream")) {
        let sent = 0;
        return new Response(
          new ReadableStream({
            pull(c) {
              if (sent >= big.length) return c.close();
              c.enqueue(big.subarray(sent, sent + 65536));
              sent += 65536;
            },
          }),
        );
      }
      return forward(req);
    });
    for (const tag of ["big", "stream"]) {
      const e = await caught(f.client.getManifest(f.repo, tag));
      expect(e.kind).toBe("InvalidArgument");
      expect(e.message).toMatch(/over the 4194304-byte limit/);
    }
  });
});

describe.skipIf(skipReason !== undefined)("registry with htpasswd (basic) auth", () => {
  let reg: TestRegistry;
  let repo: RepositoryRef;
  const img = makeImage(4);
  const servers: ReturnType<typeof Bun.serve>[] = [];
  beforeAll(async () => {
    reg = await startRegistry({ auth: "htpasswd" });
    repo = { registry: reg.host, repository: "basic/app" };
  });
  afterAll(async () => {
    for (const s of servers) s.stop(true);
    await reg?.stop();
  });

  test("push and pull with credentials from the auth file", async () => {
    const client = new RegistryClient({ credentials: storeFor(reg) });
    expect(await pushImage(client, repo, img, "v1")).toBe(img.manifestDigest);
    const m = await client.getManifest(repo, "v1");
    expect(m.digest).toBe(img.manifestDigest);
    expect(await readAll((await client.getBlob(repo, img.configDigest)).body)).toEqual(img.config);
  });

  test("without credentials: authentication required", async () => {
    const e = await caught(new RegistryClient({ credentials: anonymous() }).getManifest(repo, "v1"));
    expect(e.kind).toBe("Unauthorized");
    expect(e.message).toBe(`${reg.host}/basic/app:v1: authentication required`);
  });

  test("wrong password: invalid username or password", async () => {
    const e = await caught(new RegistryClient({ credentials: storeFor(reg, "wrong") }).getManifest(repo, "v1"));
    expect(e.kind).toBe("Unauthorized");
    expect(e.message).toBe(`${reg.host}/basic/app:v1: invalid username or password`);
  });

  test("checkLogin", async () => {
    const client = new RegistryClient({ credentials: anonymous() });
    await client.checkLogin(reg.host, { username: reg.username ?? "", password: reg.password ?? "" });
    const e = await caught(client.checkLogin(reg.host, { username: reg.username ?? "", password: "nope" }));
    expect(e.kind).toBe("Unauthorized");
    expect(e.message).toBe(`${reg.host}: invalid username or password`);
  });

  test("redirects: credentials kept on the same origin, dropped for another", async () => {
    await pushImage(new RegistryClient({ credentials: storeFor(reg) }), repo, img, "v1");
    const seen: { where: string; authorization: string | null }[] = [];
    const basic = `Basic ${encodeAuth({ username: reg.username ?? "", password: reg.password ?? "" })}`;
    const storage = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        seen.push({ where: "storage", authorization: req.headers.get("authorization") });
        const digest = new URL(req.url).pathname.split("/").pop() ?? "";
        // The storage holds the bytes: fetch them from the registry with our own credentials.
        return await fetch(`${reg.url}/v2/${repo.repository}/blobs/${digest}`, { headers: { authorization: basic } });
      },
    });
    servers.push(storage);
    const f = startProxy(reg.url, (req, url, forward) => {
      const m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
      if (m && req.method === "GET") {
        seen.push({ where: "registry", authorization: req.headers.get("authorization") });
        if (m[2] === img.layerDigest) {
          return new Response(null, { status: 307, headers: { location: `http://127.0.0.1:${storage.port}/bucket/${m[2]}?sig=x` } });
        }
        return new Response(null, { status: 302, headers: { location: `/same${url.pathname}` } });
      }
      if (url.pathname.startsWith("/same/")) {
        seen.push({ where: "same", authorization: req.headers.get("authorization") });
        return forward(req, url.pathname.slice("/same".length));
      }
      return forward(req);
    });
    servers.push(f.server);
    const creds = new CredentialStore([join(tmp, "front-auth.json")]);
    creds.set(f.host, { username: reg.username ?? "", password: reg.password ?? "" });
    const client = new RegistryClient({ credentials: creds });
    const frontRepo = { registry: f.host, repository: repo.repository };

    const layer = await client.getBlob(frontRepo, img.layerDigest);
    expect(await readAll(layer.body)).toEqual(img.layer);
    expect(seen).toEqual([
      { where: "registry", authorization: basic },
      { where: "storage", authorization: null },
    ]);

    seen.length = 0;
    const config = await client.getBlob(frontRepo, img.configDigest);
    expect(await readAll(config.body)).toEqual(img.config);
    expect(seen).toEqual([
      { where: "registry", authorization: basic },
      { where: "same", authorization: basic },
    ]);
  });
});

describe.skipIf(skipReason !== undefined)("registry with token auth", () => {
  let reg: TestRegistry;
  let repo: RepositoryRef;
  const img = makeImage(5);
  beforeAll(async () => {
    reg = await startRegistry({ auth: "token" });
    repo = { registry: reg.host, repository: "token/app" };
    await pushImage(new RegistryClient({ credentials: storeFor(reg) }), repo, img, "v1");
  });
  afterAll(async () => reg?.stop());

  test("anonymous pull gets an anonymous token", async () => {
    const client = new RegistryClient({ credentials: anonymous() });
    const before = reg.tokenServer?.issued() ?? 0;
    const m = await client.getManifest(repo, "v1");
    expect(m.digest).toBe(img.manifestDigest);
    expect(await readAll((await client.getBlob(repo, img.layerDigest)).body)).toEqual(img.layer);
    expect(await readAll((await client.getBlob(repo, img.configDigest, { offset: 10 })).body)).toEqual(img.config.subarray(10));
    // One token for repository:token/app:pull, reused for every request.
    expect((reg.tokenServer?.issued() ?? 0) - before).toBe(1);
  });

  test("anonymous push: authentication required", async () => {
    const client = new RegistryClient({ credentials: anonymous() });
    const other = { registry: reg.host, repository: "token/anon" };
    const e = await caught(client.uploadBlob(other, img.configDigest, { size: img.config.length, open: () => new Blob([img.config]) }));
    expect(e.kind).toBe("Unauthorized");
    expect(e.message).toBe(`${reg.host}/token/anon@${img.configDigest}: upload: authentication required`);
  });

  test("wrong password: invalid username or password", async () => {
    const e = await caught(new RegistryClient({ credentials: storeFor(reg, "wrong") }).getManifest(repo, "v1"));
    expect(e.kind).toBe("Unauthorized");
    expect(e.message).toBe(`${reg.host}/token/app:v1: invalid username or password`);
  });

  test("push with credentials, mount across repositories", async () => {
    const client = new RegistryClient({ credentials: storeFor(reg) });
    const dst = { registry: reg.host, repository: "token/copy" };
    expect(await client.mountBlob(dst, img.layerDigest, repo.repository)).toBe(true);
    expect(await client.mountBlob(dst, img.configDigest, repo.repository)).toBe(true);
    expect(await client.putManifest(dst, "v1", img.manifest, MediaType.OciManifest)).toBe(img.manifestDigest);
    expect((await client.headManifest(dst, "v1"))?.digest).toBe(img.manifestDigest);
  });

  test("checkLogin", async () => {
    const client = new RegistryClient({ credentials: anonymous() });
    await client.checkLogin(reg.host, { username: reg.username ?? "", password: reg.password ?? "" });
    const e = await caught(client.checkLogin(reg.host, { username: reg.username ?? "", password: "nope" }));
    expect(e.kind).toBe("Unauthorized");
    expect(e.message).toBe(`${reg.host}: invalid username or password`);
  });
});
