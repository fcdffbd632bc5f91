/**
 * Build facts, injected by scripts/build.ts with `--define`; the fallbacks
 * apply when running from source.
 */
declare const SKIFF_BUILD: { version: string; commit: string; built: string } | undefined;

const build = typeof SKIFF_BUILD !== "undefined" ? SKIFF_BUILD : { version: "0.1.0-dev", commit: "unknown", built: "" };

export const VERSION: string = build.version;
export const GIT_COMMIT: string = build.commit;
export const BUILT: string = build.built;
/** Docker Engine API version the service speaks. */
export const API_VERSION = "1.44";
export const MIN_API_VERSION = "1.24";
