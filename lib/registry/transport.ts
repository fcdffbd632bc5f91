/**
 * How requests reach a registry: which scheme (https, or http for insecure
 * registries after https fails), which auth (answering the challenge from
 * `/v2/` with a bearer token or Basic credentials, refreshed on 401),
 * redirects (followed by hand so credentials never leave the registry's
 * origin), timeouts and retries. The client in ./client.ts speaks the API on
 * top of this.
 */
import { SkiffError } from "../errors.ts";
import {
  basicAuthorization,
  type Challenge,
  type CredentialStore,
  type Credentials,
  fetchToken,
  parseChallenges,
  pickChallenge,
  type Token,
  TokenCache,
} from "./auth.ts";
import { discardBody, isRetryableStatus, networkError, RetryAfter, retryAfterMs, withRetries } from "./http.ts";
import { DOCKER_HUB, isLoopbackRegistry, registryHostname } from "./reference.ts";

export interface TransportOptions {
  credentials: CredentialStore;
  /** Registries (`host` or `host:port`) where plain http and unverified TLS are allowed. */
  insecureRegistries?: readonly string[];
  /** false: allow http and skip certificate checks for every registry. */
  tlsVerify?: boolean;
  userAgent?: string;
}

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface TransportRequest {
  registry: string;
  /** `/v2/...` under the registry, or an absolute URL (an upload's Location). */
  path: string;
  method?: HttpMethod;
  /** Token scopes: `repository:a/b:pull`. */
  scopes: readonly string[];
  /** For namespaced credential keys (`quay.io/org`). */
  repository?: string;
  headers?: Record<string, string>;
  /** Makes the body; called again for each try, so streams can be reopened. */
  body?: () => RequestInit["body"];
  /** Names the object in error messages. */
  what: string;
  /** Retry network errors, 429 and 5xx (default: GET and HEAD only). */
  retry?: boolean;
  /** Follow redirects (default: GET and HEAD only). */
  redirects?: boolean;
  signal?: AbortSignal | undefined;
  /** Use these credentials instead of the store's; null for anonymous. */
  credentials?: Credentials | null;
  /** Wait this long for response headers (default 30 s); false for none (uploads). */
  timeoutMs?: number | false;
}

interface Endpoint {
  registry: string;
  base: URL;
  challenge: Challenge | undefined;
}

const DOCKER_HUB_API = "registry-1.docker.io";
const MAX_REDIRECTS = 5;
const HEADER_TIMEOUT_MS = 30_000;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** The host serving a registry's API: Docker Hub's differs from its name. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

function unauthorized(what: string, why: string): SkiffError {
  return new SkiffError("Unauthorized", `${what}: ${why}`);
}

export class RegistryTransport {
  readonly #opts: TransportOptions;
  readonly #insecure: Set<string>;
  readonly #endpoints = new Map<string, Promise<Endpoint>>();
  readonly #tokens = new TokenCache();
  readonly #pendingTokens = new Map<string, Promise<Token>>();

  constructor(opts: TransportOptions) {
    this.#opts = opts;
    this.#insecure = new Set(
      (opts.insecureRegistries ?? []).map((r) => r.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "").toLowerCase()),
    );
  }

  get userAgent(): string {
    return this.#opts.userAgent ?? "skiff";
  }

  /** True when plain http and unverified TLS are allowed for `registry`. */
  isInsecure(registry: string): boolean {
    if (this.#opts.tlsVerify === false || isLoopbackRegistry(registry)) return true;
    const r = registry.toLowerCase();
    return this.#insecure.has(r) || this.#insecure.has(registryHostname(r));
  }

  /**
   * Sends a request with auth, redirects and retries. Returns the final
   * response whatever its status, except 401, which becomes Unauthorized.
   */
  async request(req: TransportRequest): Promise<Response> {
    const ep = await this.#endpoint(req.registry);
    const method = req.method ?? "GET";
    const idempotent = method === "GET" || method === "HEAD";
    const attempts = (req.retry ?? idempotent) ? 3 : 1;
    return await withRetries(
      async (attempt) => {
        const res = await this.#authenticated(ep, req);
        if (attempt + 1 < attempts && isRetryableStatus(res.status)) {
          const wait = retryAfterMs(res);
          await discardBody(res);
          throw new RetryAfter(`${req.what}: http status ${res.status}`, wait);
        }
        return res;
      },
      { attempts, signal: req.signal, what: req.what },
    );
  }

  /** The scheme and challenge for a registry, found once by GET /v2/ and remembered. */
  #endpoint(registry: string): Promise<Endpoint> {
    let p = this.#endpoints.get(registry);
    if (!p) {
      p = this.#probe(registry);
      this.#endpoints.set(registry, p);
      p.catch(() => this.#endpoints.delete(registry));
    }
    return p;
  }

  async #probe(registry: string): Promise<Endpoint> {
    const host = apiHost(registry);
    // Loopback registries are nearly always plain http (test and local
    // registries): trying TLS first would cost a failed handshake per pull.
    const schemes = !this.isInsecure(registry) ? ["https"] : isLoopbackRegistry(registry) ? ["http", "https"] : ["https", "http"];
    return await withRetries(async () => {
      let last: unknown;
      for (const scheme of schemes) {
        const base = new URL(`${scheme}://${host}`);
        let res: Response;
        try {
          res = await this.#fetch(new URL("/v2/", base), { method: "GET", headers: { "user-agent": this.userAgent } }, registry);
        } catch (e) {
          last = e;
          if (e instanceof SkiffError && e.kind === "Unavailable") continue;
          throw e;
        }
        if (scheme === "http" && res.status === 400 && schemes.length > 1) {
          // A TLS server answering plain http ("client sent an HTTP request to an HTTPS server").
          await discardBody(res);
          continue;
        }
        const challenge =
          res.status === 401 ? pickChallenge(parseChallenges(res.headers.get("www-authenticate") ?? "")) : undefined;
        await discardBody(res);
        return { registry, base, challenge };
      }
      throw last;
    });
  }

  async #authenticated(ep: Endpoint, req: TransportRequest): Promise<Response> {
    const creds = req.credentials === undefined ? this.#opts.credentials.get(ep.registry, req.repository) : (req.credentials ?? undefined);
    const sent = await this.#authorization(ep, req, { creds, refresh: false });
    const first = await this.#send(ep, req, sent);
    if (first.res.status !== 401 || first.foreign) return first.res;

    const fresh = pickChallenge(parseChallenges(first.res.headers.get("www-authenticate") ?? ""));
    await discardBody(first.res);
    if (!fresh) throw unauthorized(req.what, creds ? "invalid username or password" : "authentication required");
    ep.challenge = fresh;
    if (fresh.scheme === "basic") {
      if (!creds) throw unauthorized(req.what, "authentication required");
      if (sent?.startsWith("Basic ")) throw unauthorized(req.what, "invalid username or password");
    }
    const extra = fresh.scheme === "bearer" ? fresh.params.scope : undefined;
    const retried = await this.#authorization(ep, req, { creds, refresh: true, extraScope: extra });
    const second = await this.#send(ep, req, retried);
    if (second.res.status !== 401 || second.foreign) return second.res;
    await discardBody(second.res);
    if (!creds) throw unauthorized(req.what, "authentication required");
    if (fresh.scheme === "basic") throw unauthorized(req.what, "invalid username or password");
    throw unauthorized(req.what, "access denied (the repository may not exist, or the account may not have access)");
  }

  /** The Authorization header for the registry's challenge, fetching a token when needed. */
  async #authorization(
    ep: Endpoint,
    req: TransportRequest,
    o: { creds: Credentials | undefined; refresh: boolean; extraScope?: string | undefined },
  ): Promise<string | undefined> {
    const ch = ep.challenge;
    if (!ch) return undefined;
    if (ch.scheme === "basic") return o.creds ? basicAuthorization(o.creds) : undefined;
    const scopes = o.extraScope && !req.scopes.includes(o.extraScope) ? [...req.scopes, o.extraScope] : [...req.scopes];
    const key = TokenCache.key(ep.registry, { scopes: req.scopes, credentials: o.creds });
    if (!o.refresh) {
      const cached = this.#tokens.get(key);
      if (cached) return `Bearer ${cached}`;
    } else {
      this.#tokens.delete(key);
    }
    const realm = ch.params.realm;
    if (!realm) throw new SkiffError("InvalidArgument", `${ep.registry}: bearer challenge without a realm`);
    const pendingKey = `${TokenCache.key(ep.registry, { scopes, credentials: o.creds })}\n${realm}`;
    let pending = o.refresh ? undefined : this.#pendingTokens.get(pendingKey);
    if (!pending) {
      let realmHost = "";
      try {
        realmHost = new URL(realm).host;
      } catch {
        // fetchToken reports the bad realm.
      }
      pending = fetchToken({
        realm,
        service: ch.params.service,
        scopes,
        credentials: o.creds,
        registry: ep.registry,
        userAgent: this.userAgent,
        insecure: realmHost !== "" && this.isInsecure(realmHost),
      });
      this.#pendingTokens.set(pendingKey, pending);
      const done = pending;
      void done.finally(() => {
        if (this.#pendingTokens.get(pendingKey) === done) this.#pendingTokens.delete(pendingKey);
      }).catch(() => {});
    }
    let token: Token;
    try {
      token = await pending;
    } catch (e) {
      // Say which request needed the token (the token server only knows the registry).
      if (e instanceof SkiffError && e.kind === "Unauthorized") {
        throw unauthorized(req.what, o.creds ? "invalid username or password" : "authentication required");
      }
      throw e;
    }
    this.#tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  /**
   * One request, following redirects by hand. Authorization goes only to the
   * registry's own origin; `foreign` says the response came from elsewhere.
   */
  async #send(ep: Endpoint, req: TransportRequest, authorization: string | undefined): Promise<{ res: Response; foreign: boolean }> {
    const method = req.method ?? "GET";
    const follow = req.redirects ?? (method === "GET" || method === "HEAD");
    let url = new URL(req.path, ep.base);
    for (let hops = 0; ; hops++) {
      const sameOrigin = url.origin === ep.base.origin;
      const headers: Record<string, string> = { "user-agent": this.userAgent, ...req.headers };
      if (authorization && sameOrigin) headers.authorization = authorization;
      const init: RequestInit = { method, headers, redirect: "manual" };
      if (hops === 0 && req.body) init.body = req.body();
      const res = await this.#fetch(url, init, req.what, { signal: req.signal, timeoutMs: req.timeoutMs, host: url.host });
      const location = res.headers.get("location");
      if (!follow || !REDIRECTS.has(res.status) || !location) return { res, foreign: !sameOrigin };
      await discardBody(res);
      if (hops + 1 > MAX_REDIRECTS) throw new SkiffError("Unavailable", `${req.what}: too many redirects`);
      url = new URL(location, url);
    }
  }

  async #fetch(
    url: URL,
    init: RequestInit,
    what: string,
    o: { signal?: AbortSignal | undefined; timeoutMs?: number | false | undefined; host?: string } = {},
  ): Promise<Response> {
    const timeoutMs = o.timeoutMs === undefined ? HEADER_TIMEOUT_MS : o.timeoutMs;
    const timer = new AbortController();
    const handle =
      timeoutMs === false ? undefined : setTimeout(() => timer.abort(new DOMException("timed out", "TimeoutError")), timeoutMs);
    const signal = o.signal ? AbortSignal.any([o.signal, timer.signal]) : timer.signal;
    const insecure = url.protocol === "https:" && this.isInsecure(o.host ?? url.host);
    try {
      return await fetch(url, { ...init, signal, ...(insecure ? { tls: { rejectUnauthorized: false } } : {}) });
    } catch (e) {
      throw networkError(e, what);
    } finally {
      if (handle) clearTimeout(handle);
    }
  }
}
