/**
 * The environment markers of skiff's user namespaces, apart from userns.ts
 * so that main and the early shim can read them without loading it.
 */

/** Set for a process spawnInUserNamespace starts: skiff's main checks its id maps first. */
export const WAIT_ENV = "_SKIFF_USERNS_CHILD";

/** Set inside `skiff unshare`: uid 0 there is the user, and namespace work happens in-process. */
export const IN_USERNS_ENV = "_SKIFF_IN_USERNS";

export function insideSkiffUnshare(): boolean {
  return process.env[IN_USERNS_ENV] === "1";
}

/** Whether this process runs skiff rootless: not uid 0, or inside `skiff unshare` (a rootless layout). */
export function rootlessProcess(): boolean {
  return (process.getuid?.() ?? 0) !== 0 || insideSkiffUnshare();
}
