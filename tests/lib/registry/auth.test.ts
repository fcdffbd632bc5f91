import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSkiffError } from "../../../lib/errors.ts";
import {
  CredentialStore,
  decodeAuth,
  encodeAuth,
  fetchToken,
  normalizeAuthKey,
  parseChallenges,
  pickChallenge,
  repositoryScope,
  TokenCache,
} from "../../../lib/registry/auth.ts";

describe("parseChallenges", () => {
  test("docker hub bearer with a comma inside a quoted scope", () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:samalba/my-app:pull,push" },
      },
    ]);
  });

  test("basic with a realm containing spaces", () => {
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: "basic", params: { realm: "Registry Realm" } }]);
  });

  test("several challenges in one header", () => {
    const cs = parseChallenges('Basic realm="a, b", Bearer realm="https://x/token", service="svc",error="insufficient_scope"');
    expect(cs.map((c) => c.scheme)).toEqual(["basic", "bearer"]);
    expect(cs[0]?.params).toEqual({ realm: "a, b" });
    expect(cs[1]?.params).toEqual({ realm: "https://x/token", service: "svc", error: "insufficient_scope" });
  });

  test("escapes, case, unquoted values and spacing", () => {
    expect(parseChallenges('BEARER Realm = "a\\"b\\\\c" , Service=reg.io')).toEqual([
      { scheme: "bearer", params: { realm: 'a"b\\c', service: "reg.io" } },
    ]);
  });

  test("bare schemes, token68 and junk", () => {
    expect(parseChallenges("Negotiate")).toEqual([{ scheme: "negotiate", params: {} }]);
    expect(parseChallenges("Negotiate abc+/12==, Basic realm=x")).toEqual([
      { scheme: "negotiate", params: {}, token68: "abc+/12==" },
      { scheme: "basic", params: { realm: "x" } },
    ]);
    expect(parseChallenges("")).toEqual([]);
    expect(parseChallenges(" , ,")).toEqual([]);
    expect(parseChallenges('Bearer realm="unterminated')).toEqual([{ scheme: "bearer", params: { realm: "unterminated" } }]);
  });

  test("pickChallenge prefers bearer over basic", () => {
    expect(pickChallenge(parseChallenges('Basic realm="a", Bearer realm="b"'))?.scheme).toBe("bearer");
    expect(pickChallenge(parseChallenges('Basic realm="a"'))?.scheme).toBe("basic");
    expect(pickChallenge(parseChallenges("Negotiate"))).toBeUndefined();
  });

  test("repositoryScope", () => {
    expect(repositoryScope("a/b", ["pull", "push"])).toBe("repository:a/b:pull,push");
  });
});

describe("auth keys", () => {
  test("normalizeAuthKey", () => {
    expect(normalizeAuthKey("https://index.docker.io/v1/")).toBe("docker.io");
    expect(normalizeAuthKey("index.docker.io")).toBe("docker.io");
    expect(normalizeAuthKey("registry-1.docker.io")).toBe("docker.io");
    expect(normalizeAuthKey("docker.io")).toBe("docker.io");
    expect(normalizeAuthKey("https://host:5000/v2/")).toBe("host:5000");
    expect(normalizeAuthKey("http://Host:5000")).toBe("host:5000");
    expect(normalizeAuthKey("quay.io/org/repo")).toBe("quay.io/org/repo");
    expect(normalizeAuthKey("quay.io/")).toBe("quay.io");
  });

  test("encode/decode, passwords with colons", () => {
    const c = { username: "u", password: "p:a:ss" };
    expect(decodeAuth(encodeAuth(c))).toEqual(c);
    expect(decodeAuth("")).toBeUndefined();
    expect(decodeAuth(Buffer.from("nocolon").toString("base64"))).toBeUndefined();
  });
});

describe("CredentialStore", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "skiff-auth-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, value: unknown): string {
    const p = join(dir, name);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, typeof value === "string" ? value : JSON.stringify(value));
    return p;
  }
  const auth = (u: string, p: string) => ({ auth: encodeAuth({ username: u, password: p }) });

  test("reads files in order; first hit wins; hub keys normalised", () => {
    const first = write("a/auth.json", { auths: { "quay.io": auth("q1", "p1") } });
    const second = write("b/config.json", {
      auths: { "quay.io": auth("q2", "p2"), "https://index.docker.io/v1/": auth("hub", "hp"), "https://h:5000/v2/": auth("h", "hp2") },
      credsStore: "desktop",
    });
    const store = new CredentialStore([join(dir, "missing.json"), first, second]);
    expect(store.get("quay.io")).toEqual({ username: "q1", password: "p1" });
    expect(store.get("docker.io", "library/busybox")).toEqual({ username: "hub", password: "hp" });
    expect(store.get("h:5000")).toEqual({ username: "h", password: "hp2" });
    expect(store.get("other.io")).toBeUndefined();
    expect(store.locate("docker.io")).toBe(second);
  });

  test("namespaced keys: most specific wins", () => {
    const p = write("ns/auth.json", {
      auths: { "quay.io": auth("all", "1"), "quay.io/org": auth("org", "2"), "quay.io/org/repo": auth("repo", "3"), "quay.io/org2": { auth: "" } },
    });
    const store = new CredentialStore([p]);
    expect(store.get("quay.io", "org/repo")?.username).toBe("repo");
    expect(store.get("quay.io", "org/other")?.username).toBe("org");
    expect(store.get("quay.io", "orgx/a")?.username).toBe("all");
    expect(store.get("quay.io", "org2/a")?.username).toBe("all");
    expect(store.get("quay.io")?.username).toBe("all");
  });

  test("set writes the first file atomically, 0600, keeping other keys", () => {
    const p = write("w/auth.json", {
      auths: { "other.io": auth("o", "o"), "https://index.docker.io/v1/": auth("old", "old") },
      "x-extra": { keep: 1 },
    });
    const store = new CredentialStore([p, join(dir, "never.json")]);
    store.set("index.docker.io", { username: "new", password: "pw" });
    const saved = JSON.parse(readFileSync(p, "utf8"));
    expect(saved["x-extra"]).toEqual({ keep: 1 });
    expect(Object.keys(saved.auths).sort()).toEqual(["docker.io", "other.io"]);
    expect(store.get("docker.io")).toEqual({ username: "new", password: "pw" });
    expect(statSync(p).mode & 0o777).toBe(0o600);
  });

  test("set creates the file and a private directory", () => {
    const p = join(dir, "fresh", "sub", "auth.json");
    new CredentialStore([p]).set("127.0.0.1:5000", { username: "u", password: "p" });
    expect(JSON.parse(readFileSync(p, "utf8"))).toEqual({ auths: { "127.0.0.1:5000": auth("u", "p") } });
    expect(statSync(join(dir, "fresh", "sub")).mode & 0o777).toBe(0o700);
  });

  test("remove drops every spelling from the first file only", () => {
    const p = write("r/auth.json", { auths: { "docker.io": auth("a", "a"), "https://index.docker.io/v1/": auth("b", "b"), "q.io": auth("q", "q") } });
    const other = write("r/other.json", { auths: { "docker.io": auth("c", "c") } });
    const store = new CredentialStore([p, other]);
    expect(store.remove("docker.io")).toBe(true);
    expect(Object.keys(JSON.parse(readFileSync(p, "utf8")).auths)).toEqual(["q.io"]);
    expect(store.get("docker.io")?.username).toBe("c");
    expect(store.remove("docker.io")).toBe(false);
    expect(new CredentialStore([join(dir, "none.json")]).remove("x.io")).toBe(false);
  });

  test("removeAll empties the first file's auths, keeping other keys", () => {
    const p = write("all/auth.json", { auths: { "a.io": auth("a", "a"), "b.io": auth("b", "b") }, other: 1 });
    const store = new CredentialStore([p]);
    expect(store.removeAll()).toBe(2);
    expect(JSON.parse(readFileSync(p, "utf8"))).toEqual({ auths: {}, other: 1 });
    expect(store.removeAll()).toBe(0);
  });

  test("overrides win and are never written", () => {
    const p = write("o/auth.json", { auths: { "q.io": auth("file", "f") } });
    const store = new CredentialStore([p]);
    store.setOverride("q.io", { username: "flag", password: "x" });
    expect(store.get("q.io")?.username).toBe("flag");
    expect(JSON.parse(readFileSync(p, "utf8")).auths["q.io"]).toEqual(auth("file", "f"));
  });

  test("a corrupt file is an error naming it", () => {
    const p = write("bad/auth.json", "{not json");
    let err: unknown;
    try {
      new CredentialStore([p]).get("x.io");
    } catch (e) {
      err = e;
    }
    expect(isSkiffError(err, "InvalidArgument")).toBe(true);
    expect((err as Error).message).toBe(`auth file ${p}: not valid JSON`);
    expect(new CredentialStore([write("empty/auth.json", "")]).get("x.io")).toBeUndefined();
  });

  test("no paths: set is refused clearly", () => {
    expect(() => new CredentialStore([]).set("x.io", { username: "a", password: "b" })).toThrow(/no auth file location/);
  });
});

describe("fetchToken", () => {
  let server: ReturnType<typeof Bun.serve>;
  let realm: string;
  const seen: { url: URL; authorization: string | null }[] = [];
  beforeAll(() => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const url = new URL(req.url);
        const authorization = req.headers.get("authorization");
        seen.push({ url, authorization });
        switch (url.pathname) {
          case "/token":
            if (authorization && authorization !== `Basic ${encodeAuth({ username: "u", password: "p" })}`) {
              return new Response("no", { status: 401 });
            }
            return Response.json({ token: authorization ? "user-token" : "anon-token", expires_in: 120 });
          case "/oauth":
            return Response.json({ access_token: "oauth-token" });
          case "/empty":
            return Response.json({ expires_in: 3 });
          case "/big":
            return new Response(new Uint8Array(2 << 20).fill(32));
          case "/notjson":
            return new Response("<html>");
          case "/denied":
            return new Response("", { status: 403 });
          default:
            return new Response("", { status: 404 });
        }
      },
    });
    realm = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.stop(true));

  test("anonymous, with service and several scopes", async () => {
    const started = Date.now();
    const t = await fetchToken({ realm: `${realm}/token`, service: "svc", scopes: ["repository:a:pull", "repository:b:pull"], registry: "r" });
    expect(t.token).toBe("anon-token");
    expect(t.expiresAt).toBeGreaterThanOrEqual(started + 110_000);
    expect(t.expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
    const last = seen.at(-1);
    expect(last?.authorization).toBeNull();
    expect(last?.url.searchParams.get("service")).toBe("svc");
    expect(last?.url.searchParams.getAll("scope")).toEqual(["repository:a:pull", "repository:b:pull"]);
  });

  test("with credentials: Basic and account", async () => {
    const t = await fetchToken({ realm: `${realm}/token`, scopes: [], registry: "r", credentials: { username: "u", password: "p" } });
    expect(t.token).toBe("user-token");
    expect(seen.at(-1)?.url.searchParams.get("account")).toBe("u");
  });

  test("access_token and the default lifetime", async () => {
    const t = await fetchToken({ realm: `${realm}/oauth`, scopes: [], registry: "r" });
    expect(t.token).toBe("oauth-token");
    expect(t.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  test("errors", async () => {
    const bad = { username: "u", password: "wrong" };
    await expect(fetchToken({ realm: `${realm}/token`, scopes: [], registry: "r.io", credentials: bad })).rejects.toMatchObject({
      kind: "Unauthorized",
      message: "r.io: invalid username or password",
    });
    await expect(fetchToken({ realm: `${realm}/denied`, scopes: [], registry: "r.io" })).rejects.toMatchObject({
      kind: "Unauthorized",
      message: "r.io: authentication required",
    });
    await expect(fetchToken({ realm: `${realm}/empty`, scopes: [], registry: "r" })).rejects.toThrow(/token response has no token/);
    await expect(fetchToken({ realm: `${realm}/notjson`, scopes: [], registry: "r" })).rejects.toThrow(/not valid JSON/);
    await expect(fetchToken({ realm: `${realm}/big`, scopes: [], registry: "r" })).rejects.toThrow(/limit/);
    await expect(fetchToken({ realm: "ftp://x/token", scopes: [], registry: "r" })).rejects.toThrow(/unsupported token realm/);
    await expect(fetchToken({ realm: "not a url", scopes: [], registry: "r" })).rejects.toThrow(/invalid token realm/);
  });
});

describe("TokenCache", () => {
  test("honours expiry and keys by registry, scopes and credentials", () => {
    let now = 1000;
    const cache = new TokenCache({ now: () => now });
    const u = { username: "u", password: "hunter2" };
    const k = TokenCache.key("r", { scopes: ["b", "a"], credentials: u });
    expect(k).toBe(TokenCache.key("r", { scopes: ["a", "b"], credentials: { ...u } }));
    expect(k).not.toBe(TokenCache.key("r", { scopes: ["a", "b"] }));
    expect(k).not.toBe(TokenCache.key("r", { scopes: ["a", "b"], credentials: { username: "u", password: "other" } }));
    expect(k).not.toBe(TokenCache.key("r2", { scopes: ["a", "b"], credentials: u }));
    expect(k).not.toContain("hunter2");
    cache.set(k, { token: "t", expiresAt: 2000 });
    expect(cache.get(k)).toBe("t");
    now = 2000;
    expect(cache.get(k)).toBeUndefined();
    cache.set(k, { token: "t2", expiresAt: 5000 });
    cache.delete(k);
    expect(cache.get(k)).toBeUndefined();
  });
});
