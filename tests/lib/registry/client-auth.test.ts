/**
 * RegistryClient against the real CNCF distribution registry on 127.0.0.1
 * with htpasswd (basic) and token auth (a test token server), as
 * registries ask for credentials.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { MediaType } from "../../../lib/images/manifest.ts";
import { CredentialStore, encodeAuth } from "../../../lib/registry/auth.ts";
import { RegistryClient, type RepositoryRef } from "../../../lib/registry/client.ts";
import { registrySkipReason, startRegistry, type TestRegistry } from "../../helpers/registry.ts";
import { Credentials, caught, makeImage, pushImage, readAll, startProxy } from "./helpers.ts";

const skipReason = registrySkipReason();
if (skipReason) console.warn(`skipping registry client tests: ${skipReason}`);

const scratch = new Credentials();
afterAll(() => scratch.remove());
const anonymous = (): CredentialStore => scratch.anonymous();
const storeFor = (reg: TestRegistry, password?: string): CredentialStore => scratch.storeFor(reg, password);

/** `login`'s check: the right password passes, a wrong one is Unauthorized in one line (either auth scheme). */
async function expectCheckLogin(reg: TestRegistry): Promise<void> {
  const client = new RegistryClient({ credentials: anonymous() });
  await client.checkLogin(reg.host, { username: reg.username ?? "", password: reg.password ?? "" });
  const e = await caught(client.checkLogin(reg.host, { username: reg.username ?? "", password: "nope" }));
  expect(e.kind).toBe("Unauthorized");
  expect(e.message).toBe(`${reg.host}: invalid username or password`);
}

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
    await expectCheckLogin(reg);
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
    const creds = new CredentialStore([join(scratch.dir, "front-auth.json")]);
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
    await expectCheckLogin(reg);
  });
});
