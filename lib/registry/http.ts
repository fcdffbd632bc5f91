/**
 * HTTP plumbing shared by the registry client and token fetching: bounded
 * body reads, status → SkiffError mapping, network error wording, and
 * retries with exponential backoff.
 */
import { readAllCapped } from "../streams.ts";
import { Digester, digestAlgorithm, type Digest } from "../digest.ts";
import { SkiffError, type ErrorKind } from "../errors.ts";

/** Largest manifest or index body accepted (as containers/image). */
export const MAX_MANIFEST_BYTES = 4 << 20;
/** Largest token response body accepted. */
export const MAX_TOKEN_BYTES = 1 << 20;
/** Largest error body read to explain a failure. */
const MAX_ERROR_BYTES = 64 << 10;

/**
 * Reads a whole body, refusing more than `max` bytes: checks Content-Length
 * first, then counts while streaming and cancels the stream past the cap.
 */
export async function readCapped(res: Response, max: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {});
    throw new SkiffError("InvalidArgument", `${what}: response of ${declared} bytes is over the ${max}-byte limit`);
  }
  if (!res.body) return new Uint8Array(0);
  try {
    return await readAllCapped(res.body, max, () => new SkiffError("InvalidArgument", `${what}: response is over the ${max}-byte limit`));
  } catch (e) {
    if (e instanceof SkiffError) throw e;
    throw networkError(e, what);
  }
}

/** Drains and drops a body so the connection can be reused. */
export async function discardBody(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // Nothing to do: the connection is closed.
  }
}

/**
 * Computes the digest of manifest bytes (sha256, or `expected`'s algorithm)
 * and, when `expected` is given, refuses bytes that do not match it.
 */
export function digestBytes(bytes: Uint8Array, expected?: Digest): Digest {
  const h = new Digester(expected ? digestAlgorithm(expected) : "sha256");
  h.update(bytes);
  const actual = h.digest();
  if (expected !== undefined && actual !== expected) {
    throw new SkiffError("InvalidArgument", `digest mismatch: expected ${expected}, got ${actual}`);
  }
  return actual;
}

const STATUS_KINDS: Readonly<Record<number, ErrorKind>> = {
  400: "InvalidArgument",
  401: "Unauthorized",
  403: "PermissionDenied",
  404: "NotFound",
  405: "FailedPrecondition",
  409: "Conflict",
  412: "FailedPrecondition",
  429: "Unavailable",
};

/** Error kind for an HTTP status that is not a success. */
export function statusKind(status: number): ErrorKind {
  const k = STATUS_KINDS[status];
  if (k) return k;
  return status >= 500 ? "Unavailable" : "InvalidArgument";
}

/** Network failures, 429 and 5xx are worth another try on idempotent requests. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

interface RegistryErrorBody {
  errors?: { code?: unknown; message?: unknown }[];
}

/** The first registry error in a body (`{"errors":[{"code","message"}]}`), in words. */
export function registryErrorText(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const errors = (parsed as RegistryErrorBody | null)?.errors;
  const first = Array.isArray(errors) ? errors[0] : undefined;
  if (!first) return undefined;
  if (typeof first.message === "string" && first.message !== "") return first.message.toLowerCase();
  if (typeof first.code === "string") return first.code.toLowerCase().replaceAll("_", " ");
  return undefined;
}

/** Turns a failed response into a SkiffError, using the registry's own words when it sent any. */
export async function responseError(res: Response, what: string): Promise<SkiffError> {
  let detail: string | undefined;
  try {
    const bytes = await readCapped(res, MAX_ERROR_BYTES, what);
    detail = registryErrorText(new TextDecoder().decode(bytes));
  } catch {
    await discardBody(res);
  }
  if (!detail) {
    detail = res.status === 429 ? "too many requests" : `unexpected http status ${res.status}`;
  }
  return new SkiffError(statusKind(res.status), `${what}: ${detail}`);
}

const NETWORK_WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ConnectionClosed: "connection closed by the server",
  ConnectionRefused: "connection refused",
  ETIMEDOUT: "connection timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EPROTO: "tls handshake failed",
};

const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|UNABLE_TO_GET_ISSUER/;

function errorCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e) {
    const c = (e as { code: unknown }).code;
    return typeof c === "string" ? c : undefined;
  }
  return undefined;
}

function errorName(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "name" in e) {
    const n = (e as { name: unknown }).name;
    return typeof n === "string" ? n : undefined;
  }
  return undefined;
}

/** Words for a fetch failure; TLS certificate problems say what to do. */
export function networkError(e: unknown, what: string): SkiffError {
  if (e instanceof SkiffError) return e;
  if (errorName(e) === "AbortError") return new SkiffError("Canceled", `${what}: canceled`, { cause: e });
  if (errorName(e) === "TimeoutError") {
    return new SkiffError("Unavailable", `${what}: timed out waiting for the registry`, { cause: e });
  }
  const code = errorCode(e);
  if (code && CERT_CODES.test(code)) {
    return new SkiffError(
      "Unavailable",
      `${what}: tls certificate verification failed (${code}); if you trust this registry, mark it insecure or disable tls verification`,
      { cause: e },
    );
  }
  const words = (code && NETWORK_WORDS[code]) || (e instanceof Error ? e.message : String(e));
  return new SkiffError("Unavailable", `${what}: ${words.charAt(0).toLowerCase()}${words.slice(1)}`, { cause: e });
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw signal.reason;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface RetryPolicy {
  /** Total tries, first included (default 3). */
  attempts?: number;
  /** First backoff in ms, doubled each time (default 200). */
  baseDelayMs?: number;
  signal?: AbortSignal | undefined;
  /** Names the work in the Canceled error when the signal fires during a backoff. */
  what?: string;
}

/** A failure `withRetries` may try again: Unavailable (network, 429, 5xx), never a cancel. */
function retryable(e: unknown): boolean {
  return e instanceof SkiffError && e.kind === "Unavailable";
}

/**
 * Runs `fn` until it succeeds or fails with something not worth retrying.
 * `fn` gets the attempt number (0-based); throw an Unavailable SkiffError to
 * ask for another try, anything else stops at once.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  const attempts = policy.attempts ?? 3;
  const base = policy.baseDelayMs ?? 200;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt + 1 >= attempts || !retryable(e)) throw e;
      const hint = e instanceof RetryAfter ? e.delayMs : 0;
      try {
        await sleep(Math.max(base * 2 ** attempt, hint), policy.signal);
      } catch (abort) {
        throw new SkiffError("Canceled", `${policy.what ?? "request"}: canceled`, { cause: abort });
      }
    }
  }
}

/** An Unavailable error carrying the server's Retry-After (capped), for withRetries. */
export class RetryAfter extends SkiffError {
  readonly delayMs: number;
  constructor(message: string, delayMs: number) {
    super("Unavailable", message);
    this.delayMs = delayMs;
  }
}

/** Retry-After in ms (seconds form only), capped at `capMs`; 0 when absent. */
export function retryAfterMs(res: Response, capMs = 10_000): number {
  const v = Number(res.headers.get("retry-after") ?? Number.NaN);
  return Number.isFinite(v) && v > 0 ? Math.min(v * 1000, capMs) : 0;
}
