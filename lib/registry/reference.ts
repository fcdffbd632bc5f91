/**
 * Image references, parsed and normalised the way Docker does it:
 *
 *   busybox                      → docker.io/library/busybox:latest
 *   user/app:1                   → docker.io/user/app:1
 *   127.0.0.1:5000/a/b@sha256:…  → registry 127.0.0.1:5000, repository a/b, digest
 *
 * The first path component names a registry only when it contains `.` or `:`,
 * is `localhost`, or has uppercase letters (which a repository cannot have).
 */
import { isDigest, type Digest } from "../digest.ts";
import { SkiffError } from "../errors.ts";

export interface ImageReference {
  /** Registry host, with port when given: `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry: `library/busybox`. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

export const DOCKER_HUB = "docker.io";
export const DEFAULT_TAG = "latest";
const LEGACY_DOCKER_HUB = "index.docker.io";
const OFFICIAL_NAMESPACE = "library";
/** Longest `registry/repository`, as Docker counts it. */
export const MAX_NAME_LENGTH = 255;
const MAX_TAG_LENGTH = 128;

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:.]+\\])(?::[0-9]+)?$`,
);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const HEX64_RE = /^[a-f0-9]{64}$/;

function bad(input: string, reason: string): SkiffError {
  return new SkiffError("InvalidArgument", `invalid reference ${JSON.stringify(input)}: ${reason}`);
}

/** True when `tag` is a valid tag (`[\w][\w.-]{0,127}`). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Splits `name` into registry and remainder by Docker's first-component rule. */
function splitRegistry(name: string): { registry: string; remainder: string } {
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  const isRegistry =
    slash >= 0 &&
    (first.includes(".") || first.includes(":") || first === "localhost" || first.toLowerCase() !== first);
  let registry = isRegistry ? first : DOCKER_HUB;
  let remainder = isRegistry ? name.slice(slash + 1) : name;
  if (registry === LEGACY_DOCKER_HUB) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !remainder.includes("/")) remainder = `${OFFICIAL_NAMESPACE}/${remainder}`;
  return { registry, remainder };
}

/**
 * Parses and normalises an image reference. Adds the `latest` tag when there
 * is neither tag nor digest, unless `defaultTag` is false.
 *
 *   parseReference("busybox") // { registry: "docker.io", repository: "library/busybox", tag: "latest" }
 */
export function parseReference(input: string, opts: { defaultTag?: boolean } = {}): ImageReference {
  if (input === "") throw bad(input, "reference is empty");
  if (/\s/.test(input)) throw bad(input, "reference contains whitespace");
  if (HEX64_RE.test(input)) {
    throw bad(input, "a 64-character hexadecimal string is an image id, not a repository name");
  }
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw bad(input, `invalid digest ${JSON.stringify(d)}`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag.length > MAX_TAG_LENGTH) throw bad(input, `tag is longer than ${MAX_TAG_LENGTH} characters`);
    if (!isValidTag(tag)) throw bad(input, `invalid tag ${JSON.stringify(tag)}`);
  }
  if (rest === "") throw bad(input, "repository name is empty");
  const { registry, remainder } = splitRegistry(rest);
  if (!DOMAIN_RE.test(registry)) throw bad(input, `invalid registry ${JSON.stringify(registry)}`);
  if (remainder === "") throw bad(input, "repository name is empty");
  if (remainder.toLowerCase() !== remainder) throw bad(input, "repository name must be lowercase");
  for (const part of remainder.split("/")) {
    if (!PATH_COMPONENT_RE.test(part)) {
      throw bad(input, part === "" ? "repository name has an empty path component" : `invalid repository name component ${JSON.stringify(part)}`);
    }
  }
  if (registry.length + 1 + remainder.length > MAX_NAME_LENGTH) {
    throw bad(input, `repository name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (tag === undefined && digest === undefined && opts.defaultTag !== false) tag = DEFAULT_TAG;
  return {
    registry,
    repository: remainder,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** `docker.io/library/busybox` */
export function repositoryName(r: Pick<ImageReference, "registry" | "repository">): string {
  return `${r.registry}/${r.repository}`;
}

function suffix(r: ImageReference): string {
  return `${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}

/** Fully qualified: `docker.io/library/busybox:latest`, `…@sha256:…` with a digest. */
export function formatReference(r: ImageReference): string {
  return `${repositoryName(r)}${suffix(r)}`;
}

/** Docker's short form: `busybox:latest`, `user/app:1`; other registries stay in full. */
export function familiarString(r: ImageReference): string {
  let name = repositoryName(r);
  if (r.registry === DOCKER_HUB) {
    name = r.repository;
    const prefix = `${OFFICIAL_NAMESPACE}/`;
    if (name.startsWith(prefix) && !name.slice(prefix.length).includes("/")) name = name.slice(prefix.length);
  }
  return `${name}${suffix(r)}`;
}

/** The same reference with `tag` (keeps a digest, as Docker does). */
export function withTag(r: ImageReference, tag: string): ImageReference {
  if (!isValidTag(tag)) {
    throw new SkiffError("InvalidArgument", `invalid tag ${JSON.stringify(tag)} for ${repositoryName(r)}`);
  }
  return { registry: r.registry, repository: r.repository, tag, ...(r.digest !== undefined ? { digest: r.digest } : {}) };
}

/** The same reference pinned to `digest` (keeps a tag, as Docker does). */
export function withDigest(r: ImageReference, digest: string): ImageReference {
  if (!isDigest(digest)) {
    throw new SkiffError("InvalidArgument", `invalid digest ${JSON.stringify(digest)} for ${repositoryName(r)}`);
  }
  return { registry: r.registry, repository: r.repository, ...(r.tag !== undefined ? { tag: r.tag } : {}), digest };
}

/** Host part of `registry` without port: `[::1]:5000` → `::1`, `a.b:5000` → `a.b`. */
export function registryHostname(registry: string): string {
  if (registry.startsWith("[")) {
    const end = registry.indexOf("]");
    return end < 0 ? registry : registry.slice(1, end);
  }
  const colons = registry.split(":").length - 1;
  if (colons === 1) return registry.slice(0, registry.indexOf(":"));
  return registry; // no port, or a bare IPv6 address
}

/**
 * True for registries on this machine, where plain http is allowed as Docker
 * allows it: `localhost`, 127.0.0.0/8 and ::1, with or without a port.
 */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registryHostname(registry).toLowerCase();
  if (host === "localhost" || host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  const octets = host.split(".");
  return (
    octets.length === 4 &&
    octets[0] === "127" &&
    octets.every((o) => /^[0-9]{1,3}$/.test(o) && Number(o) <= 255)
  );
}
