/**
 * One error vocabulary for all of skiff. Code throws `SkiffError` with a kind;
 * this file alone decides what a kind means as a process exit code or an HTTP
 * status, so the CLI and the API never disagree.
 */

export type ErrorKind =
  | "NotFound"
  | "AlreadyExists"
  | "InvalidArgument"
  | "Conflict"
  | "FailedPrecondition"
  | "Unauthorized"
  | "PermissionDenied"
  | "Unavailable"
  | "NotModified"
  | "Canceled"
  | "TooLarge"
  | "NotImplemented"
  | "Internal";

export class SkiffError extends Error {
  override readonly name = "SkiffError";
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }

  /** Returns a copy with `context: ` prepended, keeping the kind. */
  wrap(context: string): SkiffError {
    return new SkiffError(this.kind, `${context}: ${this.message}`, { cause: this });
  }
}

export function notFound(message: string): SkiffError {
  return new SkiffError("NotFound", message);
}
export function invalidArgument(message: string): SkiffError {
  return new SkiffError("InvalidArgument", message);
}
export function conflict(message: string): SkiffError {
  return new SkiffError("Conflict", message);
}
export function alreadyExists(message: string): SkiffError {
  return new SkiffError("AlreadyExists", message);
}
export function failedPrecondition(message: string): SkiffError {
  return new SkiffError("FailedPrecondition", message);
}
export function unavailable(message: string): SkiffError {
  return new SkiffError("Unavailable", message);
}
export function internal(message: string, cause?: unknown): SkiffError {
  return new SkiffError("Internal", message, { cause });
}

export function isSkiffError(e: unknown, kind?: ErrorKind): e is SkiffError {
  return e instanceof SkiffError && (kind === undefined || e.kind === kind);
}

/** errno code → kind, one table (Bun and Node use the same `code` strings). */
const ERRNO_KINDS: Record<string, ErrorKind> = {
  ENOENT: "NotFound",
  ENOTDIR: "NotFound",
  EEXIST: "AlreadyExists",
  ENOTEMPTY: "Conflict",
  EBUSY: "Conflict",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EROFS: "PermissionDenied",
  EINVAL: "InvalidArgument",
  ENOSPC: "Unavailable",
  EAGAIN: "Unavailable",
  ECONNREFUSED: "Unavailable",
  ECONNRESET: "Unavailable",
  ETIMEDOUT: "Unavailable",
  EHOSTUNREACH: "Unavailable",
  ENETUNREACH: "Unavailable",
};

export function errnoCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e) {
    const code = (e as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/** Turns any thrown value into a SkiffError, prefixing `context`. */
export function toSkiffError(e: unknown, context?: string): SkiffError {
  if (e instanceof SkiffError) return context ? e.wrap(context) : e;
  const code = errnoCode(e);
  const kind: ErrorKind = (code && ERRNO_KINDS[code]) || "Internal";
  const raw = e instanceof Error ? e.message : String(e);
  const message = context ? `${context}: ${raw}` : raw;
  return new SkiffError(kind, message, { cause: e });
}

const HTTP_STATUS: Record<ErrorKind, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  InvalidArgument: 400,
  Conflict: 409,
  FailedPrecondition: 409,
  Unauthorized: 401,
  PermissionDenied: 403,
  Unavailable: 503,
  NotModified: 304,
  Canceled: 499,
  TooLarge: 413,
  NotImplemented: 501,
  Internal: 500,
};

export function httpStatus(e: SkiffError): number {
  return HTTP_STATUS[e.kind];
}

/** Exit code for skiff's own failures: 125, as Docker and Podman. */
export const EXIT_SKIFF = 125;
/** The command was found but could not be invoked. */
export const EXIT_CANNOT_INVOKE = 126;
/** The command was not found. */
export const EXIT_NOT_FOUND = 127;

/**
 * Verbs whose man pages give specific codes (podman-rm(1), podman-stop(1)):
 * 1 when a named object does not exist, 2 when it is in a state that refuses.
 */
export type VerbWithCodes = "rm" | "stop" | "kill" | "rmi";

export function exitCode(e: SkiffError, verb?: VerbWithCodes): number {
  if (verb && e.kind === "NotFound") return 1;
  if (verb && (e.kind === "Conflict" || e.kind === "FailedPrecondition")) return 2;
  return EXIT_SKIFF;
}
