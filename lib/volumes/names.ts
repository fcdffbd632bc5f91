/**
 * Volume names, as Docker's local driver allows them: `[a-zA-Z0-9]` then
 * `[a-zA-Z0-9_.-]`, at least two characters. Anonymous volumes get 64
 * random hex digits, like Docker's. A name never starts with a dot, so the
 * store's own entries (`.tmp-*`, `.trash-*`, `.leases`) can never clash.
 */
import { randomHex } from "../random.ts";
import { sha256Hex } from "../digest.ts";
import { join } from "node:path";
import { SkiffError } from "../errors.ts";

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** A file name must fit in NAME_MAX (255); `.trash-<name>-<8 hex>` must too. */
export const MAX_NAME_LENGTH = 230;

export function isValidVolumeName(name: string): boolean {
  return NAME_RE.test(name) && name.length <= MAX_NAME_LENGTH;
}

/**
 * Throws InvalidArgument, worded like Docker's, for a name the local driver refuses.
 * @example validateVolumeName("data") // ok
 */
export function validateVolumeName(name: string): void {
  if (isValidVolumeName(name)) return;
  if (name.length > MAX_NAME_LENGTH && NAME_RE.test(name)) {
    throw new SkiffError("InvalidArgument", `create ${name.slice(0, 32)}...: volume name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  throw new SkiffError(
    "InvalidArgument",
    `create ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed; to pass a host directory, use an absolute path`,
  );
}

/** A fresh anonymous volume name: 64 hex digits. */
export function newAnonymousName(): string {
  return randomHex(32);
}

/** The flock(2) file guarding one volume (hashed: names may be long). */
export function volumeLockPath(locksDir: string, name: string): string {
  return join(locksDir, `volume-${sha256Hex(name).slice(0, 24)}.lock`);
}
