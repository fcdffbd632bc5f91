/** Deterministic content for fixtures, and the digests that describe it. */
import { createHash } from "node:crypto";

/** 2024-01-01T00:00:00Z: the mtime of every entry that does not set one. */
export const FIXED_MTIME = 1704067200;
export const FIXED_CREATED = "2024-01-01T00:00:00Z";

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function hex(digest: string): string {
  return digest.slice(digest.indexOf(":") + 1);
}

/** FNV-1a, used only to turn a seed string into PRNG state. */
function seedOf(seed: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}

/** Incompressible pseudo-random bytes (xorshift32): same seed and size, same bytes. */
export function randomBytes(seed: string, size: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seedOf(seed);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, size);
}

const WORDS = ["skiff", "layer", "image", "blob", "digest", "overlay", "tar", "registry", "fixture", "manifest"];

/** Compressible text (numbered lines of deterministic words) of exactly `size` bytes. */
export function textBytes(seed: string, size: number): Uint8Array {
  const rnd = randomBytes(seed, 4096);
  const tail = ` ${seed}\n`;
  const tailBytes = utf8(tail).length;
  const lines: string[] = [];
  let n = 0;
  for (let line = 0; n < size; line++) {
    const word = WORDS[(rnd[line % rnd.length] ?? 0) % WORDS.length] ?? "x";
    const head = `${line} ${word}`;
    lines.push(head + tail);
    n += head.length + tailBytes;
  }
  return utf8(lines.join("")).subarray(0, size);
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
