/**
 * Set in the environment of a process spawnInUserNamespace starts: it tells
 * skiff's main to check its id maps first. Apart from userns.ts so main can
 * test for it without loading that module.
 */
export const WAIT_ENV = "_SKIFF_USERNS_CHILD";
