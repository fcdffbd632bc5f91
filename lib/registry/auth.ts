/**
 * Registry authentication: `WWW-Authenticate` challenges, the Docker token
 * flow (GET realm?service=&scope= with optional Basic credentials) and a
 * token cache keyed by registry, scope and user. Credentials files are in
 * ./credentials.ts and re-exported here.
 */
import { z } from "zod";
import { sha256 } from "../digest.ts";
import { SkiffError } from "../errors.ts";
import { type Credentials, encodeAuth } from "./credentials.ts";
import { discardBody, MAX_TOKEN_BYTES, networkError, readCapped, responseError, withRetries } from "./http.ts";

export { CredentialStore, normalizeAuthKey, decodeAuth, encodeAuth, type Credentials } from "./credentials.ts";

/** One challenge: scheme in lowercase (`bearer`, `basic`), parameter names in lowercase. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), rare for registries. */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[-._~+/0-9A-Za-z]/;

/**
 * Parses a `WWW-Authenticate` header into its challenges: several may share
 * one header, parameters may be quoted (with commas and `\` escapes inside).
 *
 *   parseChallenges('Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull,push"')
 *   // [{ scheme: "bearer", params: { realm: "https://auth.example/token", service: "reg", scope: "repository:a:pull,push" } }]
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const n = header.length;
  let i = 0;
  let current: Challenge | undefined;

  function skip(chars: RegExp): void {
    while (i < n && chars.test(header.charAt(i))) i++;
  }
  function readWhile(re: RegExp): string {
    const start = i;
    while (i < n && re.test(header.charAt(i))) i++;
    return header.slice(start, i);
  }
  function readQuoted(): string {
    i++; // opening quote
    let value = "";
    while (i < n) {
      const c = header.charAt(i);
      if (c === "\\" && i + 1 < n) {
        value += header.charAt(i + 1);
        i += 2;
      } else if (c === '"') {
        i++;
        break;
      } else {
        value += c;
        i++;
      }
    }
    return value;
  }

  while (i < n) {
    skip(/[\s,]/);
    if (i >= n) break;
    const token = readWhile(TCHAR);
    if (token === "") {
      i++; // stray character: skip it
      continue;
    }
    skip(/[ \t]/);
    if (current && header.charAt(i) === "=" && header.charAt(i + 1) !== "=") {
      i++;
      skip(/[ \t]/);
      const value = header.charAt(i) === '"' ? readQuoted() : readWhile(/[^\s,]/);
      current.params[token.toLowerCase()] = value;
      continue;
    }
    current = { scheme: token.toLowerCase(), params: {} };
    out.push(current);
    // A token68 right after the scheme ("Negotiate abc==") ends at a comma or
    // the end; a parameter would go on with "=value".
    const save = i;
    const t68 = readWhile(TOKEN68_CHAR) + readWhile(/=/);
    skip(/[ \t]/);
    if (t68 !== "" && (i >= n || header.charAt(i) === ",")) {
      current.token68 = t68;
      continue;
    }
    i = save;
  }
  return out;
}

/** The challenge skiff will answer: Bearer over Basic; undefined when neither is offered. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
}

/** `Basic <base64>` for credentials. */
export function basicAuthorization(c: Credentials): string {
  return `Basic ${encodeAuth(c)}`;
}

/** `repository:<name>:<actions>` */
export function repositoryScope(repository: string, actions: readonly ("pull" | "push")[]): string {
  return `repository:${repository}:${actions.join(",")}`;
}

const TokenResponseSchema = z
  .object({
    token: z.string().optional(),
    access_token: z.string().optional(),
    expires_in: z.number().optional(),
    issued_at: z.string().optional(),
  })
  .passthrough();

/** A bearer token and when (ms since the epoch) to stop using it. */
export interface Token {
  token: string;
  expiresAt: number;
}

export interface TokenRequest {
  /** From the challenge. */
  realm: string;
  service?: string | undefined;
  /** `repository:a/b:pull,push`, …; empty for a login check. */
  scopes: readonly string[];
  credentials?: Credentials | undefined;
  /** For messages: the registry asking. */
  registry: string;
  userAgent?: string;
  /** Skip TLS verification for the realm (insecure registries only). */
  insecure?: boolean;
  signal?: AbortSignal | undefined;
}

/** Default lifetime when the server gives none, as the token spec says. */
const DEFAULT_TOKEN_SECONDS = 60;
/** Stop using a token this long before it expires. */
const EXPIRY_MARGIN_MS = 5_000;

/**
 * Fetches a bearer token from the realm. 401/403 from the token server means
 * bad credentials (or, anonymously, that login is required). Retries
 * network errors and 5xx.
 */
export async function fetchToken(req: TokenRequest): Promise<Token> {
  let url: URL;
  try {
    url = new URL(req.realm);
  } catch {
    throw new SkiffError("InvalidArgument", `${req.registry}: invalid token realm ${JSON.stringify(req.realm)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new SkiffError("InvalidArgument", `${req.registry}: unsupported token realm ${JSON.stringify(req.realm)}`);
  }
  if (req.service) url.searchParams.set("service", req.service);
  for (const s of req.scopes) url.searchParams.append("scope", s);
  if (req.credentials) url.searchParams.set("account", req.credentials.username);
  const headers: Record<string, string> = { accept: "application/json" };
  if (req.userAgent) headers["user-agent"] = req.userAgent;
  if (req.credentials) headers.authorization = basicAuthorization(req.credentials);
  const what = `${req.registry}: get token`;
  const started = Date.now();
  const res = await withRetries(
    async (attempt) => {
      let r: Response;
      try {
        r = await fetch(url, {
          headers,
          redirect: "follow",
          ...(req.signal ? { signal: req.signal } : {}),
          ...(req.insecure ? { tls: { rejectUnauthorized: false } } : {}),
        });
      } catch (e) {
        throw networkError(e, what);
      }
      if (r.status >= 500 && attempt < 2) {
        await discardBody(r);
        throw new SkiffError("Unavailable", `${what}: http status ${r.status}`);
      }
      return r;
    },
    { signal: req.signal },
  );
  if (res.status === 401 || res.status === 403) {
    await discardBody(res);
    throw new SkiffError(
      "Unauthorized",
      `${req.registry}: ${req.credentials ? "invalid username or password" : "authentication required"}`,
    );
  }
  if (!res.ok) throw await responseError(res, what);
  const bytes = await readCapped(res, MAX_TOKEN_BYTES, what);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new SkiffError("InvalidArgument", `${what}: token response is not valid JSON`);
  }
  const parsed = TokenResponseSchema.safeParse(raw);
  const token = parsed.success ? parsed.data.token || parsed.data.access_token : undefined;
  if (!parsed.success || !token) throw new SkiffError("InvalidArgument", `${what}: token response has no token`);
  const seconds = parsed.data.expires_in && parsed.data.expires_in > 0 ? parsed.data.expires_in : DEFAULT_TOKEN_SECONDS;
  return { token, expiresAt: started + seconds * 1000 - EXPIRY_MARGIN_MS };
}

/** Tokens per (registry, scopes, user), dropped once expired. */
export class TokenCache {
  readonly #tokens = new Map<string, Token>();
  readonly #now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Cache key: registry, scopes (any order) and a fingerprint of the
   * credentials, so a changed password never reuses an old token.
   */
  static key(registry: string, opts: { scopes: readonly string[]; credentials?: Credentials | undefined }): string {
    const who = opts.credentials ? sha256(`${opts.credentials.username}\n${opts.credentials.password}`) : "anonymous";
    return `${registry}\n${[...opts.scopes].sort().join(" ")}\n${who}`;
  }

  get(key: string): string | undefined {
    const t = this.#tokens.get(key);
    if (!t) return undefined;
    if (t.expiresAt <= this.#now()) {
      this.#tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  set(key: string, token: Token): void {
    this.#tokens.set(key, token);
  }

  delete(key: string): void {
    this.#tokens.delete(key);
  }
}
