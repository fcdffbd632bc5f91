/**
 * Registry credentials in the auth file format podman and docker share:
 *
 *   { "auths": { "quay.io": { "auth": "<base64 user:pass>" } } }
 *
 * Files are read in order (see authFileCandidates in lib/paths.ts); the first
 * one that has an entry for the registry wins. `set` and `remove` change only
 * the first file, atomically and with mode 0600, keeping every other key.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { errnoCode, SkiffError } from "../errors.ts";
import { atomicWriteJson } from "../fsutil.ts";

export interface Credentials {
  username: string;
  password: string;
}

const AuthEntrySchema = z
  .object({
    auth: z.string().optional(),
    identitytoken: z.string().optional(),
  })
  .passthrough();

const AuthFileSchema = z
  .object({
    auths: z.record(AuthEntrySchema).optional(),
  })
  .passthrough();
type AuthFile = z.infer<typeof AuthFileSchema>;

const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

/**
 * Normalises an auth file key or a registry name to `host[:port][/path]`:
 * a key with a scheme is a URL (`https://host:5000/v2/` → `host:5000`), and
 * every Docker Hub spelling becomes `docker.io`.
 *
 *   normalizeAuthKey("https://index.docker.io/v1/") // "docker.io"
 */
export function normalizeAuthKey(key: string): string {
  let k = key.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(k);
  if (scheme) {
    k = k.slice(scheme[0].length);
    const slash = k.indexOf("/");
    if (slash >= 0) k = k.slice(0, slash);
  }
  k = k.replace(/\/+$/, "");
  const slash = k.indexOf("/");
  const host = (slash < 0 ? k : k.slice(0, slash)).toLowerCase();
  const path = slash < 0 ? "" : k.slice(slash);
  return `${DOCKER_HUB_ALIASES.has(host) ? "docker.io" : host}${path}`;
}

/** base64("user:pass") → credentials; undefined for an empty or malformed entry. */
export function decodeAuth(auth: string): Credentials | undefined {
  if (auth === "") return undefined;
  let text: string;
  try {
    text = Buffer.from(auth, "base64").toString("utf8");
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** credentials → base64("user:pass") */
export function encodeAuth(c: Credentials): string {
  return Buffer.from(`${c.username}:${c.password}`, "utf8").toString("base64");
}

function readAuthFile(path: string): AuthFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new SkiffError("PermissionDenied", `auth file ${path}: ${(e as Error).message}`);
  }
  if (text.trim() === "") return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SkiffError("InvalidArgument", `auth file ${path}: not valid JSON`);
  }
  const parsed = AuthFileSchema.safeParse(raw);
  if (!parsed.success) throw new SkiffError("InvalidArgument", `auth file ${path}: unexpected content`);
  return parsed.data;
}

/**
 * Finds the entry for `registry` (and optionally a repository) in one file:
 * the most specific key wins (`quay.io/org/repo` over `quay.io/org` over `quay.io`).
 */
function lookup(file: AuthFile, registry: string, repository: string | undefined): Credentials | undefined {
  const host = normalizeAuthKey(registry);
  const full = repository ? `${host}/${repository}` : host;
  let best: { creds: Credentials; len: number } | undefined;
  for (const [key, entry] of Object.entries(file.auths ?? {})) {
    const k = normalizeAuthKey(key);
    if (k !== full && !full.startsWith(`${k}/`)) continue;
    const creds = entry.auth !== undefined ? decodeAuth(entry.auth) : undefined;
    if (creds && (!best || k.length > best.len)) best = { creds, len: k.length };
  }
  return best?.creds;
}

/** Reads credentials from podman/docker auth files and writes `login`/`logout` changes. */
export class CredentialStore {
  readonly #paths: readonly string[];
  readonly #overrides = new Map<string, Credentials>();

  /**
   * `paths` in lookup order; the first is where `set` and `remove` write.
   *
   *   new CredentialStore(authFileCandidates({ uid, env: process.env }))
   */
  constructor(paths: readonly string[]) {
    this.#paths = [...paths];
  }

  /** The file `set` and `remove` change, if any. */
  get writePath(): string | undefined {
    return this.#paths[0];
  }

  /**
   * Uses `creds` for `registry` in this process only, ahead of every file
   * (`--creds user:pass`). Never written.
   */
  setOverride(registry: string, creds: Credentials): void {
    this.#overrides.set(normalizeAuthKey(registry), creds);
  }

  /**
   * Credentials for a registry (and repository, for namespaced keys), or
   * undefined for anonymous access.
   *
   *   store.get("docker.io", "library/busybox")
   */
  get(registry: string, repository?: string): Credentials | undefined {
    const o = this.#overrides.get(normalizeAuthKey(registry));
    if (o) return o;
    for (const path of this.#paths) {
      const file = readAuthFile(path);
      if (!file) continue;
      const creds = lookup(file, registry, repository);
      if (creds) return creds;
    }
    return undefined;
  }

  /** The first file holding credentials for `registry`, if any (for `logout` messages). */
  locate(registry: string): string | undefined {
    for (const path of this.#paths) {
      const file = readAuthFile(path);
      if (file && lookup(file, registry, undefined)) return path;
    }
    return undefined;
  }

  /**
   * Stores credentials in the first auth file under the normalised key,
   * replacing other spellings of the same registry in that file.
   */
  set(registry: string, creds: Credentials): void {
    const path = this.#requireWritePath();
    const file = readAuthFile(path) ?? {};
    const key = normalizeAuthKey(registry);
    const auths: Record<string, unknown> = { ...(file.auths ?? {}) };
    for (const k of Object.keys(auths)) if (normalizeAuthKey(k) === key) delete auths[k];
    auths[key] = { auth: encodeAuth(creds) };
    atomicWriteJson(path, { ...file, auths }, { mode: 0o600 });
  }

  /** Removes every spelling of `registry` from the first auth file; false when there was none. */
  remove(registry: string): boolean {
    const path = this.#requireWritePath();
    const file = readAuthFile(path);
    if (!file?.auths) return false;
    const key = normalizeAuthKey(registry);
    const auths: Record<string, unknown> = { ...file.auths };
    let removed = false;
    for (const k of Object.keys(auths)) {
      if (normalizeAuthKey(k) === key) {
        delete auths[k];
        removed = true;
      }
    }
    if (removed) atomicWriteJson(path, { ...file, auths }, { mode: 0o600 });
    return removed;
  }

  /** Removes every registry's credentials from the first auth file (`logout --all`); returns how many. */
  removeAll(): number {
    const path = this.#requireWritePath();
    const file = readAuthFile(path);
    const count = Object.keys(file?.auths ?? {}).length;
    if (file && count > 0) atomicWriteJson(path, { ...file, auths: {} }, { mode: 0o600 });
    return count;
  }

  #requireWritePath(): string {
    const p = this.#paths[0];
    if (p === undefined) throw new SkiffError("FailedPrecondition", "no auth file location is configured");
    // Credentials live here: a directory we create is private, like podman's.
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    return p;
  }
}
