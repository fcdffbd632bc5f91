/**
 * Random ids and names. From the Web Crypto global, not node:crypto: loading
 * that module costs every command that makes something ~3 ms (it brings
 * Node's stream classes along).
 */

export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** `n` random bytes as lower-case hex (2n characters). */
export function randomHex(n: number): string {
  return Buffer.from(randomBytes(n)).toString("hex");
}
