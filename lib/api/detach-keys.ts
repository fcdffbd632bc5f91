/** The detach sequence: shared with the CLI (lib/detach-keys.ts). */
export { DEFAULT_DETACH_KEYS, DetachMatcher, detachKeysOf, parseDetachKeys } from "../detach-keys.ts";
