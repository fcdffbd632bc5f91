/**
 * The detach sequence on an attached terminal's input (default Ctrl-P
 * Ctrl-Q), for the CLI and the API alike: input passes through until the
 * whole sequence is seen; a partial match that breaks off is passed on after
 * all.
 */
import { SkiffError } from "./errors.ts";

export const DEFAULT_DETACH_KEYS = new Uint8Array([16, 17]);

/** "ctrl-p,ctrl-q" → bytes. */
export function parseDetachKeys(spec: string): Uint8Array {
  if (spec === "") return new Uint8Array(0);
  const out: number[] = [];
  for (const part of spec.split(",")) {
    const p = part.trim().toLowerCase();
    const ctrl = /^ctrl-([a-z@[\\\]^_])$/.exec(p);
    if (ctrl) {
      const c = (ctrl[1] as string).charCodeAt(0);
      out.push(c >= 97 && c <= 122 ? c - 96 : c === 64 ? 0 : c - 64);
    } else if (p.length === 1) {
      out.push(p.charCodeAt(0));
    } else {
      throw new SkiffError("InvalidArgument", `invalid detach keys: ${spec}`);
    }
  }
  return new Uint8Array(out);
}

/** "ctrl-p,ctrl-q" → bytes; "" or undefined: the default. */
export function detachKeysOf(spec: string | undefined): Uint8Array {
  if (spec === undefined || spec === "") return DEFAULT_DETACH_KEYS;
  return parseDetachKeys(spec);
}

export class DetachMatcher {
  readonly #keys: Uint8Array;
  #matched = 0;

  constructor(keys: Uint8Array) {
    this.#keys = keys;
  }

  /** Bytes to forward, and whether the sequence completed (what follows it is dropped). */
  feed(chunk: Uint8Array): { forward: Uint8Array; hit: boolean } {
    if (this.#keys.length === 0) return { forward: chunk, hit: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.#keys[this.#matched]) {
        this.#matched += 1;
        if (this.#matched === this.#keys.length) {
          this.#matched = 0;
          return { forward: new Uint8Array(out), hit: true };
        }
        continue;
      }
      if (this.#matched > 0) out.push(...this.#keys.subarray(0, this.#matched));
      this.#matched = b === this.#keys[0] ? 1 : 0;
      if (this.#matched === 0) out.push(b);
    }
    return { forward: new Uint8Array(out), hit: false };
  }
}
