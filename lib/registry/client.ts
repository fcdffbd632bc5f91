/**
 * Docker Registry HTTP API v2 / OCI distribution client: manifests and blobs,
 * pull and push. Scheme choice, auth, redirects and retries are in
 * ./transport.ts; this file maps the API's paths and statuses.
 *
 *   const client = new RegistryClient({ credentials: new CredentialStore(paths) });
 *   const m = await client.getManifest({ registry: "docker.io", repository: "library/busybox" }, "latest");
 */
import { isDigest, type Digest } from "../digest.ts";
import { SkiffError } from "../errors.ts";
import { MANIFEST_ACCEPT, stripMediaTypeParams } from "../images/manifest.ts";
import { type CredentialStore, type Credentials, repositoryScope } from "./auth.ts";
import {
  digestBytes,
  discardBody,
  MAX_MANIFEST_BYTES,
  readCapped,
  responseError,
  withRetries,
} from "./http.ts";
import { isValidTag } from "./reference.ts";
import { RegistryTransport, type TransportRequest } from "./transport.ts";

export { digestBytes } from "./http.ts";

/** A repository in a registry. */
export interface RepositoryRef {
  registry: string;
  repository: string;
}

export interface RegistryClientOptions {
  credentials: CredentialStore;
  /** Registries (`host` or `host:port`) allowed over plain http / unverified TLS. */
  insecureRegistries?: string[];
  /** false: allow http and unverified TLS for every registry. */
  tlsVerify?: boolean;
  userAgent?: string;
}

export interface FetchedManifest {
  bytes: Uint8Array;
  /** From the body's `mediaType`, else the Content-Type header. */
  mediaType: string;
  /** Verified: the requested digest, or the sha256 of the bytes for a tag. */
  digest: Digest;
}

export interface ManifestInfo {
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface BlobResponse {
  body: ReadableStream<Uint8Array>;
  /** Total size of the blob when the registry says it. */
  size?: number;
  /** Byte offset in the blob where `body` starts (0 when the registry ignored Range). */
  offset: number;
}

export interface UploadSource {
  size: number;
  /** Opens the content; called again for each try. */
  open: () => ReadableStream<Uint8Array> | Blob;
}

function repoPath(repo: RepositoryRef): string {
  return `/v2/${repo.repository}`;
}

function refString(repo: RepositoryRef, reference: string): string {
  return `${repo.registry}/${repo.repository}${isDigest(reference) ? "@" : ":"}${reference}`;
}

function checkReference(repo: RepositoryRef, reference: string): void {
  if (!isDigest(reference) && !isValidTag(reference)) {
    throw new SkiffError("InvalidArgument", `${repo.registry}/${repo.repository}: invalid tag or digest ${JSON.stringify(reference)}`);
  }
}

/** The `mediaType` field of a JSON body, if it has one. */
function bodyMediaType(bytes: Uint8Array): string | undefined {
  try {
    const doc: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof doc === "object" && doc !== null && "mediaType" in doc) {
      const t = (doc as { mediaType: unknown }).mediaType;
      return typeof t === "string" && t !== "" ? t : undefined;
    }
  } catch {
    // Not JSON: parseManifest will say so.
  }
  return undefined;
}

function headerDigest(res: Response): Digest | undefined {
  const d = res.headers.get("docker-content-digest");
  return d && isDigest(d) ? d : undefined;
}

export class RegistryClient {
  readonly #t: RegistryTransport;

  constructor(opts: RegistryClientOptions) {
    this.#t = new RegistryTransport({
      credentials: opts.credentials,
      ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
      ...(opts.tlsVerify !== undefined ? { tlsVerify: opts.tlsVerify } : {}),
      userAgent: opts.userAgent ?? "skiff",
    });
  }

  #pull(repo: RepositoryRef): Pick<TransportRequest, "registry" | "repository" | "scopes"> {
    return { registry: repo.registry, repository: repo.repository, scopes: [repositoryScope(repo.repository, ["pull"])] };
  }

  #push(repo: RepositoryRef): Pick<TransportRequest, "registry" | "repository" | "scopes"> {
    return { registry: repo.registry, repository: repo.repository, scopes: [repositoryScope(repo.repository, ["pull", "push"])] };
  }

  /**
   * Fetches a manifest or index by tag or digest, at most 4 MiB. Bytes
   * fetched by digest are verified against it; NotFound when unknown.
   *
   *   const { bytes, mediaType, digest } = await client.getManifest(repo, "latest");
   */
  async getManifest(repo: RepositoryRef, reference: string, opts: { accept?: string[] } = {}): Promise<FetchedManifest> {
    checkReference(repo, reference);
    const what = refString(repo, reference);
    const res = await this.#t.request({
      ...this.#pull(repo),
      path: `${repoPath(repo)}/manifests/${reference}`,
      headers: { accept: (opts.accept ?? MANIFEST_ACCEPT).join(", ") },
      what,
    });
    if (res.status === 404) {
      await discardBody(res);
      throw new SkiffError("NotFound", `${what}: manifest unknown`);
    }
    if (!res.ok) throw await responseError(res, what);
    const bytes = await readCapped(res, MAX_MANIFEST_BYTES, `${what}: manifest`);
    let digest: Digest;
    try {
      digest = digestBytes(bytes, isDigest(reference) ? reference : undefined);
    } catch (e) {
      throw e instanceof SkiffError ? e.wrap(`${what}: manifest`) : e;
    }
    const header = stripMediaTypeParams(res.headers.get("content-type") ?? "");
    return { bytes, mediaType: bodyMediaType(bytes) ?? header, digest };
  }

  /**
   * Digest, media type and size of a manifest without fetching it (HEAD);
   * undefined when unknown. For a tag the digest is the registry's word
   * (Docker-Content-Digest): verify it when fetching by digest afterwards.
   */
  async headManifest(repo: RepositoryRef, reference: string, opts: { accept?: string[] } = {}): Promise<ManifestInfo | undefined> {
    checkReference(repo, reference);
    const what = refString(repo, reference);
    const res = await this.#t.request({
      ...this.#pull(repo),
      method: "HEAD",
      path: `${repoPath(repo)}/manifests/${reference}`,
      headers: { accept: (opts.accept ?? MANIFEST_ACCEPT).join(", ") },
      what,
    });
    if (!res.ok && res.status !== 404) throw await responseError(res, what);
    await discardBody(res);
    if (res.status === 404) return undefined;
    const digest = isDigest(reference) ? reference : headerDigest(res);
    const size = Number(res.headers.get("content-length") ?? Number.NaN);
    const mediaType = stripMediaTypeParams(res.headers.get("content-type") ?? "");
    if (digest === undefined || !Number.isFinite(size) || mediaType === "") {
      // The registry left something out: fetch the manifest to know for sure.
      try {
        const m = await this.getManifest(repo, reference, opts);
        return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
      } catch (e) {
        if (e instanceof SkiffError && e.kind === "NotFound") return undefined;
        throw e;
      }
    }
    return { digest, mediaType, size };
  }

  /**
   * Opens a blob for reading, from `offset` when given (Range). The result
   * says where the body really starts: 0 when the registry ignored Range.
   * Redirects to blob storage are followed without the registry's credentials.
   */
  async getBlob(
    repo: RepositoryRef,
    digest: Digest,
    opts: { offset?: number; signal?: AbortSignal } = {},
  ): Promise<BlobResponse> {
    const what = `${repo.registry}/${repo.repository}@${digest}`;
    const offset = opts.offset ?? 0;
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await this.#t.request({
      ...this.#pull(repo),
      path: `${repoPath(repo)}/blobs/${digest}`,
      headers,
      what,
      signal: opts.signal,
    });
    if (res.status === 404) {
      await discardBody(res);
      throw new SkiffError("NotFound", `${what}: blob unknown`);
    }
    if (res.status === 416 && offset > 0) {
      await discardBody(res);
      return await this.getBlob(repo, digest, { ...opts, offset: 0 });
    }
    if (!res.ok) throw await responseError(res, what);
    const length = Number(res.headers.get("content-length") ?? Number.NaN);
    let start = 0;
    let size: number | undefined = res.status === 200 && Number.isFinite(length) ? length : undefined;
    if (res.status === 206) {
      const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(res.headers.get("content-range") ?? "");
      start = m ? Number(m[1]) : offset;
      if (m && m[3] !== "*") size = Number(m[3]);
      else if (Number.isFinite(length)) size = start + length;
      if (start !== offset) {
        // Not the range asked for: start over from the beginning.
        await discardBody(res);
        return await this.getBlob(repo, digest, { ...opts, offset: 0 });
      }
    }
    const body = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    return { body, offset: start, ...(size !== undefined ? { size } : {}) };
  }

  /** Size of a blob already in the repository (HEAD), or undefined when absent. */
  async blobExists(repo: RepositoryRef, digest: Digest): Promise<number | undefined> {
    const what = `${repo.registry}/${repo.repository}@${digest}`;
    const res = await this.#t.request({ ...this.#push(repo), method: "HEAD", path: `${repoPath(repo)}/blobs/${digest}`, what });
    if (!res.ok && res.status !== 404) throw await responseError(res, what);
    await discardBody(res);
    if (res.status === 404) return undefined;
    const size = Number(res.headers.get("content-length") ?? Number.NaN);
    return Number.isFinite(size) ? size : 0;
  }

  /**
   * Asks the registry to link a blob from another repository on it, without
   * uploading. false when the registry would rather have the upload.
   */
  async mountBlob(repo: RepositoryRef, digest: Digest, fromRepository: string): Promise<boolean> {
    const what = `${repo.registry}/${repo.repository}@${digest}: mount from ${fromRepository}`;
    const query = new URLSearchParams({ mount: digest, from: fromRepository });
    const res = await this.#t.request({
      ...this.#push(repo),
      scopes: [repositoryScope(repo.repository, ["pull", "push"]), repositoryScope(fromRepository, ["pull"])],
      method: "POST",
      path: `${repoPath(repo)}/blobs/uploads/?${query}`,
      headers: { "content-length": "0" },
      what,
    });
    if (res.status !== 201 && res.status !== 202) throw await responseError(res, what);
    await discardBody(res);
    if (res.status === 201) return true;
    // 202: the registry started an ordinary upload instead; cancel it.
    const location = res.headers.get("location");
    if (location) {
      await this.#t
        .request({ ...this.#push(repo), method: "DELETE", path: location, what, retry: false })
        .then(discardBody)
        .catch(() => {});
    }
    return false;
  }

  /**
   * Uploads a blob in one PUT (POST for a session, then PUT ?digest=). The
   * whole upload is tried again on network errors and 5xx, reopening the source.
   */
  async uploadBlob(repo: RepositoryRef, digest: Digest, opts: UploadSource): Promise<void> {
    const what = `${repo.registry}/${repo.repository}@${digest}: upload`;
    await withRetries(async () => {
      const start = await this.#t.request({
        ...this.#push(repo),
        method: "POST",
        path: `${repoPath(repo)}/blobs/uploads/`,
        headers: { "content-length": "0" },
        what,
        retry: false,
      });
      if (start.status !== 202 && start.status !== 201) throw await responseError(start, what);
      await discardBody(start);
      const location = start.headers.get("location");
      if (!location) throw new SkiffError("Unavailable", `${what}: registry gave no upload location`);
      const target = new URL(location, new URL(`${repoPath(repo)}/blobs/uploads/`, "http://relative.invalid"));
      target.searchParams.set("digest", digest);
      const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? target.toString() : `${target.pathname}${target.search}`;
      const res = await this.#t.request({
        ...this.#push(repo),
        method: "PUT",
        path,
        headers: { "content-type": "application/octet-stream", "content-length": String(opts.size) },
        body: opts.open,
        what,
        retry: false,
        timeoutMs: false,
      });
      if (!res.ok) throw await responseError(res, what);
      await discardBody(res);
      const stored = headerDigest(res);
      if (stored && stored !== digest) {
        throw new SkiffError("InvalidArgument", `${what}: registry stored ${stored}`);
      }
    });
  }

  /**
   * Stores a manifest under a tag or digest; returns its digest (sha256 of
   * the bytes, or the digest given as reference, which the bytes must match).
   */
  async putManifest(repo: RepositoryRef, reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    checkReference(repo, reference);
    const what = refString(repo, reference);
    let digest: Digest;
    try {
      digest = digestBytes(bytes, isDigest(reference) ? reference : undefined);
    } catch (e) {
      throw e instanceof SkiffError ? e.wrap(`${what}: put manifest`) : e;
    }
    const res = await this.#t.request({
      ...this.#push(repo),
      method: "PUT",
      path: `${repoPath(repo)}/manifests/${reference}`,
      headers: { "content-type": mediaType },
      body: () => bytes,
      what,
      retry: true,
    });
    if (!res.ok) throw await responseError(res, `${what}: put manifest`);
    await discardBody(res);
    return digest;
  }

  /**
   * Checks credentials against a registry (`skiff login`): GET /v2/ through
   * whatever challenge it returns. Unauthorized when they are refused.
   */
  async checkLogin(registry: string, creds: Credentials): Promise<void> {
    const res = await this.#t.request({ registry, path: "/v2/", scopes: [], what: registry, credentials: creds });
    if (res.status === 401) throw new SkiffError("Unauthorized", `${registry}: invalid username or password`);
    if (!res.ok) throw await responseError(res, registry);
    await discardBody(res);
  }
}
