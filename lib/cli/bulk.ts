/**
 * Verbs over several objects (`rmi a b c`, later `rm`, `stop`): each object
 * gets its own outcome; failures are printed one per line and the exit code
 * follows podman's man pages (1 when an object is missing, 2 when one is in a
 * state that refuses, 125 otherwise).
 */
import { exitCode, toSkiffError, type SkiffError, type VerbWithCodes } from "../errors.ts";
import { ExitStatus } from "./main.ts";
import { writeStderr } from "./stdio.ts";

export type Outcome<T> = { name: string; ok: true; value: T } | { name: string; ok: false; error: SkiffError };

export async function eachName<T>(names: string[], fn: (name: string) => Promise<T>): Promise<Outcome<T>[]> {
  const out: Outcome<T>[] = [];
  for (const name of names) {
    try {
      out.push({ name, ok: true, value: await fn(name) });
    } catch (e) {
      out.push({ name, ok: false, error: toSkiffError(e) });
    }
  }
  return out;
}

/** Prints failures; throws ExitStatus when any failed. */
export function finishBulk<T>(outcomes: Outcome<T>[], verb: VerbWithCodes): void {
  let code = 0;
  for (const o of outcomes) {
    if (o.ok) continue;
    writeStderr(`Error: ${o.error.message}\n`);
    const c = exitCode(o.error, verb);
    // The most severe code wins: 125 over 2 over 1.
    code = Math.max(code, c);
  }
  if (code !== 0) throw new ExitStatus(code);
}
