/**
 * API version negotiation as Docker does it: paths may start with
 * `/v1.NN`; a version above ours or below the minimum is refused with 400;
 * unversioned paths get the newest behaviour. `/_ping` advertises ours in
 * `Api-Version` and clients (the docker CLI) pick min(theirs, ours).
 */
import { SkiffError } from "../errors.ts";
import { API_VERSION, MIN_API_VERSION } from "../version.ts";

const PREFIX = /^\/v(\d+\.\d+)(?=\/)/;

/**
 * Splits a request path into its version prefix and the path routes see.
 * @example splitVersion("/v1.44/containers/json") // { version: "1.44", path: "/containers/json" }
 */
export function splitVersion(path: string): { version: string | undefined; path: string } {
  const m = PREFIX.exec(path);
  if (!m) return { version: undefined, path };
  return { version: m[1], path: path.slice(m[0].length) || "/" };
}

/** Compares "1.44" and "1.9" numerically, part by part. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** The version a request speaks: its prefix, checked, or ours. */
export function requestVersion(version: string | undefined): string {
  if (version === undefined) return API_VERSION;
  if (compareVersions(version, API_VERSION) > 0) {
    throw new SkiffError("InvalidArgument", `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new SkiffError(
      "InvalidArgument",
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  return version;
}

/** True when the request's version is at least `v`. */
export function atLeast(version: string, v: string): boolean {
  return compareVersions(version, v) >= 0;
}
