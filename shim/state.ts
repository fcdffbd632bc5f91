/**
 * The shim's side of state.json: merge a few fields and write atomically.
 * No schema here (the CLI validates on read); the shim stays small.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { atomicWriteJson } from "../lib/fsutil.ts";

export function patchState(containerDir: string, patch: Record<string, unknown>): void {
  const file = join(containerDir, "state.json");
  let current: Record<string, unknown> = { schemaVersion: 1, status: "created" };
  try {
    current = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    // first write
  }
  try {
    // No fsync (it costs milliseconds on the start path): the state describes
    // processes, which a crash ends anyway, and readers correct it from the
    // boot id and pids. The rename still makes every write all-or-nothing.
    atomicWriteJson(file, { ...current, ...patch }, { mode: 0o600, noSync: true });
  } catch {
    // The container directory may be gone (removed while running).
  }
}
