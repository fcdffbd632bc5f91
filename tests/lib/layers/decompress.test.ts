import { describe, expect, test } from "bun:test";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { decompress, sniffCompression } from "../../../lib/layers/decompress.ts";
import { isSkiffError } from "../../../lib/errors.ts";

async function text(input: Uint8Array | Uint8Array[], mode: "gzip" | "zstd" | "none" | "auto" = "auto"): Promise<string> {
  const parts = Array.isArray(input) ? input : [input];
  const d = await decompress(
    (async function* () {
      yield* parts;
    })(),
    mode,
    { what: "layer x" },
  );
  let out = "";
  for await (const c of d.chunks) out += Buffer.from(c).toString();
  return out;
}

async function failure(input: Uint8Array, mode: "gzip" | "zstd" | "auto" = "auto"): Promise<Error> {
  try {
    await text(input, mode);
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a failure");
}

describe("decompress", () => {
  test("gzip, zstd and none, sniffed or named, in any chunking", async () => {
    const body = "a".repeat(100_000) + "b".repeat(1000);
    const gz = gzipSync(Buffer.from(body));
    const zs = zstdCompressSync(Buffer.from(body));
    expect(await text(gz)).toBe(body);
    expect(await text(zs)).toBe(body);
    expect(await text(Buffer.from(body))).toBe(body);
    expect(await text(gz, "gzip")).toBe(body);
    const oneByte = [...gz].map((b) => Uint8Array.of(b));
    expect(await text(oneByte)).toBe(body);
    expect(sniffCompression(gz)).toBe("gzip");
    expect(sniffCompression(zs)).toBe("zstd");
  });

  test("concatenated gzip members read as one stream", async () => {
    expect(await text(Buffer.concat([gzipSync(Buffer.from("hello ")), gzipSync(Buffer.from("world"))]))).toBe("hello world");
  });

  test("corrupt, truncated or trailing bytes are InvalidArgument naming the layer", async () => {
    const gz = gzipSync(Buffer.from("hello world, hello world"));
    for (const bad of [gz.subarray(0, gz.length - 6), Buffer.concat([gz, Buffer.from("garbage")]), Buffer.concat([gz.subarray(0, 12), Buffer.alloc(40, 7)])]) {
      const e = await failure(bad);
      expect(isSkiffError(e, "InvalidArgument")).toBe(true);
      expect(e.message).toStartWith("layer x: gzip decompression failed");
    }
    const e = await failure(zstdCompressSync(Buffer.from("z".repeat(5000))).subarray(0, 12));
    expect(e.message).toStartWith("layer x: zstd decompression failed");
  });

  test("an error of the input is the error reported", async () => {
    const gz = gzipSync(Buffer.alloc(200_000, 1));
    const d = await decompress(
      (async function* () {
        yield gz.subarray(0, 100);
        throw new Error("connection reset");
      })(),
      "gzip",
    );
    let err: unknown;
    try {
      for await (const _ of d.chunks) void _;
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toBe("connection reset");
  });

  test("stopping early stops reading the input", async () => {
    const gz = gzipSync(Buffer.alloc(64 << 20, 1)); // about 64 KiB of input
    const pieces = Math.ceil(gz.length / 256);
    let pulled = 0;
    let closed = false;
    const d = await decompress(
      (async function* () {
        try {
          for (let o = 0; o < gz.length; o += 256) {
            pulled += 1;
            yield gz.subarray(o, o + 256);
          }
        } finally {
          closed = true;
        }
      })(),
      "gzip",
    );
    for await (const _ of d.chunks) break;
    // The cancel travels back through the decompressor's pipe on later turns.
    for (let i = 0; i < 100 && !closed; i++) await Bun.sleep(5);
    expect(closed).toBe(true);
    expect(pulled).toBeLessThan(pieces);
  });
});
