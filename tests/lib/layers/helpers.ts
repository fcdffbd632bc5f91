/**
 * Test helpers for layer unpacking: tars built in memory with tar-stream's
 * pack(), hand-made PAX headers for binary values pack() cannot encode, and
 * temp dirs under os.tmpdir() (writable by the unprivileged CI user).
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pack, type Header } from "tar-stream";
import { SkiffError } from "../../../lib/errors.ts";
import { type UnpackOptions, type UnpackResult, unpackLayer } from "../../../lib/layers/unpack.ts";

export type TestEntry = Partial<Header> & { name: string; content?: string | Uint8Array; pax?: Record<string, string> };

export const isRoot = process.getuid?.() === 0;

/** A tar built with tar-stream's pack(); every entry gets a fixed mtime unless given. */
export async function makeTar(entries: TestEntry[]): Promise<Uint8Array> {
  const p = pack();
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c as Uint8Array);
  })();
  for (const { content, ...header } of entries) {
    const h = { mtime: new Date(1_600_000_000_000), ...header } as Header;
    const isFile = h.type === undefined || h.type === "file" || h.type === "contiguous-file";
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content !== undefined || isFile) p.entry(h, Buffer.from(content ?? ""), cb);
      else p.entry(h, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function octal(buf: Buffer, value: number, offset: number, width: number): void {
  buf.write(`${value.toString(8).padStart(width - 1, "0")}\0`, offset, "latin1");
}

/**
 * One raw header block plus its data, padded: for what pack() cannot write
 * (binary PAX values, GNU long names). `flag` is the typeflag character.
 */
export function rawBlock(flag: string, data: Uint8Array, name = "././@LongLink", gnu = false): Uint8Array {
  const h = Buffer.alloc(512);
  h.write(name, 0, "latin1");
  octal(h, 0o644, 100, 8);
  octal(h, 0, 108, 8);
  octal(h, 0, 116, 8);
  octal(h, data.length, 124, 12);
  octal(h, 0, 136, 12);
  h.write(flag, 156, "latin1");
  h.write(gnu ? "ustar  \0" : "ustar\x0000", 257, "latin1");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  Buffer.from(data).copy(padded);
  return Buffer.concat([h, padded]);
}

/** A PAX extended header ("x") with binary-safe values, to put before an entry's header. */
export function rawPaxHeader(records: [string, Uint8Array | string][]): Uint8Array {
  const body: Buffer[] = [];
  for (const [key, v] of records) {
    const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(v), Buffer.from("\n")]);
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
    body.push(Buffer.concat([Buffer.from(String(len)), rest]));
  }
  return rawBlock("x", Buffer.concat(body), "PaxHeader");
}

/** A tar's entries without its end-of-archive blocks, to splice raw blocks in. */
export function withoutTrailer(tar: Uint8Array): Uint8Array {
  let end = tar.length;
  while (end >= 512 && tar.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
  return tar.subarray(0, end);
}

/** Yields `data` in chunks, as a download would. */
export async function* chunked(data: Uint8Array, size = 7919): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

export class TempDirs {
  #dirs: string[] = [];
  make(prefix = "skiff-layers-"): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.#dirs.push(d);
    return d;
  }
  /** Removes every dir made; directories unpacked with modes like 0555 are opened up first. */
  cleanup(): void {
    for (const d of this.#dirs.splice(0)) {
      openUp(d);
      rmSync(d, { recursive: true, force: true });
    }
  }
}

function openUp(dir: string): void {
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) return;
    if ((st.mode & 0o700) !== 0o700) chmodSync(dir, st.mode | 0o700);
    for (const name of readdirSync(dir)) openUp(join(dir, name));
  } catch {
    // gone already, or not ours: rmSync reports what matters
  }
}

/** Sorted relative listing of a tree (no following of symlinks). */
export function listTree(root: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    out.push(r);
    if (lstatSync(join(root, r)).isDirectory()) out.push(...listTree(root, r));
  }
  return out;
}

export interface Unpacked {
  dest: string;
  result: UnpackResult;
  warnings: string[];
}

/**
 * Unpacks `tar` (entries or bytes) into a fresh dir made by `dirs`, in small
 * chunks. `chown` defaults to true only as root.
 */
export async function unpackInto(
  dirs: TempDirs,
  tar: TestEntry[] | Uint8Array,
  opts: Partial<UnpackOptions> = {},
): Promise<Unpacked> {
  const bytes = tar instanceof Uint8Array ? tar : await makeTar(tar);
  const dest = opts.dest ?? join(dirs.make(), "fs");
  if (!opts.dest) mkdirSync(dest);
  const warnings: string[] = [];
  const result = await unpackLayer(chunked(bytes), {
    chown: isRoot,
    layer: "sha256:test",
    ...opts,
    dest,
    onWarning: (m) => warnings.push(m),
  });
  return { dest, result, warnings };
}

/** The SkiffError an async call rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<SkiffError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SkiffError) return e;
    throw e;
  }
  throw new Error("expected a rejection, got success");
}
