/**
 * A thin driver around tar-stream's `extract()`: feeds it a byte stream with
 * backpressure and hands each entry to a synchronous handler, which may
 * return a sink for the entry's content.
 *
 * PAX values: tar-stream decodes PAX records as UTF-8 strings, which corrupts
 * binary values such as `SCHILY.xattr.security.capability`. We therefore
 * also keep the raw bytes of each PAX record by wrapping the extractor's
 * (internal) `_decodeLongHeader`. If a future tar-stream stops calling it,
 * we fall back to tar-stream's strings and report values that did not
 * survive UTF-8 decoding as `lossy` instead of applying corrupted bytes.
 */
import { extract, type Header } from "tar-stream";

export type { Header };

export interface TarEntry {
  header: Header;
  /** PAX records of this entry (per-entry merged over global), raw values. */
  pax: Map<string, Uint8Array>;
  /** PAX keys whose value could not be recovered byte-exactly (dropped from `pax`). */
  lossy: string[];
}

export interface ContentSink {
  write(chunk: Uint8Array): void;
  end(): void;
}

/** Called once per entry, in order; a returned sink receives the content. */
export type EntryHandler = (entry: TarEntry) => ContentSink | undefined;

interface ExtractInternals {
  _header: { type: string | null } | null;
  _pax: object | null;
  _decodeLongHeader?: (this: ExtractInternals, buf: Uint8Array) => void;
}

const decoder = new TextDecoder();

/** Parses PAX extended header records (`"%d %s=%s\n"`), keeping values as bytes. */
export function parsePaxRecords(buf: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let off = 0;
  while (off < buf.length) {
    let sp = off;
    while (sp < buf.length && buf[sp] !== 0x20) sp++;
    const len = Number.parseInt(decoder.decode(buf.subarray(off, sp)), 10);
    if (!(len > 0) || off + len > buf.length || sp + 1 > off + len - 1) break;
    const record = buf.subarray(sp + 1, off + len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq < 0) break;
    out.set(decoder.decode(record.subarray(0, eq)), Uint8Array.from(record.subarray(eq + 1)));
    off += len;
  }
  return out;
}

/**
 * Reads a tar stream to its end. Throws the first error raised by the
 * handler, a sink, the input or the parser; the input is then cancelled.
 * @example await readTar(chunks, (e) => (e.header.type === "file" ? fileSink(e) : undefined));
 */
export async function readTar(chunks: AsyncIterable<Uint8Array>, onEntry: EntryHandler): Promise<void> {
  const ex = extract();
  const rawByPax = new WeakMap<object, Map<string, Uint8Array>>();
  let globalRaw = new Map<string, Uint8Array>();

  const internals = ex as unknown as ExtractInternals;
  const original = internals._decodeLongHeader;
  if (typeof original === "function") {
    internals._decodeLongHeader = function (this: ExtractInternals, buf: Uint8Array): void {
      const type = this._header?.type;
      original.call(this, buf);
      if (type === "pax-global-header") {
        globalRaw = new Map([...globalRaw, ...parsePaxRecords(buf)]);
      } else if (type === "pax-header" && this._pax) {
        rawByPax.set(this._pax, new Map([...globalRaw, ...parsePaxRecords(buf)]));
      }
    };
  }

  function paxOf(header: Header): { pax: Map<string, Uint8Array>; lossy: string[] } {
    const strings = header.pax as Record<string, string> | null | undefined;
    if (!strings) return { pax: new Map(globalRaw), lossy: [] };
    const raw = rawByPax.get(strings);
    if (raw) return { pax: raw, lossy: [] };
    const pax = new Map<string, Uint8Array>();
    const lossy: string[] = [];
    for (const [k, v] of Object.entries(strings)) {
      if (v.includes("\uFFFD")) lossy.push(k);
      else pax.set(k, Buffer.from(v, "utf8"));
    }
    return { pax, lossy };
  }

  let failure: unknown;
  function fail(e: unknown): void {
    if (failure !== undefined) return;
    failure = e ?? new Error("tar extraction failed");
    ex.destroy(e instanceof Error ? e : new Error(String(e)));
  }

  const closed = new Promise<void>((resolve) => ex.once("close", () => resolve()));
  ex.on("error", (e: unknown) => {
    if (failure === undefined) failure = e;
  });
  ex.on("entry", (header, stream, next) => {
    stream.on("error", () => undefined); // the extractor reports the same error
    let sink: ContentSink | undefined;
    try {
      sink = onEntry({ header, ...paxOf(header) });
    } catch (e) {
      fail(e);
      return;
    }
    stream.on("data", (chunk: unknown) => {
      if (failure !== undefined || !sink) return;
      try {
        sink.write(chunk as Uint8Array);
      } catch (e) {
        fail(e);
      }
    });
    stream.on("end", () => {
      if (failure !== undefined) return;
      try {
        sink?.end();
      } catch (e) {
        fail(e);
        return;
      }
      next();
    });
  });

  function writable(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        ex.off("drain", done);
        ex.off("close", done);
        resolve();
      };
      ex.on("drain", done);
      ex.on("close", done);
    });
  }

  try {
    for await (const chunk of chunks) {
      if (failure !== undefined) break;
      if (!ex.write(chunk)) await writable();
      if (failure !== undefined) break;
    }
  } catch (e) {
    fail(e);
  }
  if (failure === undefined) ex.end(undefined);
  await closed;
  if (failure !== undefined) throw failure;
}
