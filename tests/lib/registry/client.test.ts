/**
 * RegistryClient against the real CNCF distribution registry on 127.0.0.1
 * without auth. Small Bun.serve front proxies stand between the client and
 * the registry where a test needs the registry to misbehave (redirects, 5xx,
 * ignored Range, tampered bytes); everything else is the registry's own
 * behaviour. Auth is in client-auth.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sha256 } from "../../../lib/digest.ts";
import { MediaType, parseManifest } from "../../../lib/images/manifest.ts";
import { CredentialStore } from "../../../lib/registry/auth.ts";
import { digestBytes, RegistryClient, type RepositoryRef } from "../../../lib/registry/client.ts";
import { RegistryTransport } from "../../../lib/registry/transport.ts";
import { freePort, registrySkipReason, startRegistry, type TestRegistry } from "../../helpers/registry.ts";
import { Credentials, bytesOf, caught, makeImage, pushImage, readAll, startProxy } from "./helpers.ts";

const skipReason = registrySkipReason();
if (skipReason) console.warn(`skipping registry client tests: ${skipReason}`);

const scratch = new Credentials();
afterAll(() => scratch.remove());
const anonymous = (): CredentialStore => scratch.anonymous();

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
