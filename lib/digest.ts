/**
 * Content digests (`sha256:<64 hex>`). Only sha256 is accepted for storage;
 * sha512 digests are parsed and verified but blobs are stored by sha256 too.
 */
import { invalidArgument, SkiffError } from "./errors.ts";

export type Digest = `${"sha256" | "sha512"}:${string}`;

const PATTERNS: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

export function isDigest(s: string): s is Digest {
  const i = s.indexOf(":");
  if (i < 0) return false;
  const re = PATTERNS[s.slice(0, i)];
  return re !== undefined && re.test(s.slice(i + 1));
}

export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw invalidArgument(`invalid digest ${JSON.stringify(s)}`);
  return s;
}

export function digestAlgorithm(d: Digest): "sha256" | "sha512" {
  return d.slice(0, d.indexOf(":")) as "sha256" | "sha512";
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(":") + 1);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${sha256Hex(data)}`;
}

/** The bare hex SHA-256 of `data`. */
export function sha256Hex(data: Uint8Array | string): string {
  const h = new Bun.CryptoHasher("sha256");
  h.update(data);
  return h.digest("hex");
}

/** Incremental digest that can be fed chunks as they stream past. */
export class Digester {
  readonly algorithm: "sha256" | "sha512";
  #hasher: Bun.CryptoHasher;
  size = 0;

  constructor(algorithm: "sha256" | "sha512" = "sha256") {
    this.algorithm = algorithm;
    this.#hasher = new Bun.CryptoHasher(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.#hasher.update(chunk);
    this.size += chunk.length;
  }

  digest(): Digest {
    return `${this.algorithm}:${this.#hasher.digest("hex")}`;
  }
}

export function verifyDigest(expected: Digest, actual: Digest, what: string): void {
  if (expected !== actual) {
    throw new SkiffError("InvalidArgument", `${what}: digest mismatch: expected ${expected}, got ${actual}`);
  }
}

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : sha256(`${prev} ${d}`));
  }
  return out;
}

export function shortId(d: string, n = 12): string {
  const i = d.indexOf(":");
  return (i >= 0 ? d.slice(i + 1) : d).slice(0, n);
}
