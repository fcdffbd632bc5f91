/** Stream framing between the shim and its clients: a type byte, a big-endian length, the payload. */
import { describe, expect, test } from "bun:test";
import { encodeFrame, FrameDecoder } from "../../shim/protocol.ts";

describe("frames", () => {
  test("the length is four big-endian bytes", () => {
    expect([...encodeFrame(2, new Uint8Array(0x01020304 & 0xffff))].slice(0, 5)).toEqual([2, 0, 0, 0x03, 0x04]);
    const big = encodeFrame(1, new Uint8Array((1 << 24) + 0x010203));
    expect([...big.subarray(0, 5)]).toEqual([1, 0x01, 0x01, 0x02, 0x03]);
  });

  test("decoded as encoded, whatever the chunking, lengths past 2^24 included", () => {
    const payloads = [new Uint8Array(0), new TextEncoder().encode("hi"), new Uint8Array(3000).fill(7), new Uint8Array((1 << 24) + 5).fill(9)];
    const stream = Buffer.concat(payloads.map((p, i) => encodeFrame(i + 1, p)));
    for (const size of [1, 3, 4096, stream.length]) {
      const d = new FrameDecoder();
      const got: { type: number; payload: Uint8Array }[] = [];
      // Byte-sized chunks only over the small frames: the 16 MB one would take minutes a byte at a time.
      const step = (off: number): number => (off < 3100 ? size : Math.max(size, 1 << 20));
      for (let off = 0; off < stream.length; off += step(off)) got.push(...d.push(stream.subarray(off, off + step(off))));
      expect(got.map((f) => f.type)).toEqual([1, 2, 3, 4]);
      expect(got.map((f) => f.payload.length)).toEqual(payloads.map((p) => p.length));
      expect(Buffer.from(got[1]?.payload ?? []).toString()).toBe("hi");
      expect(got[3]?.payload.every((b) => b === 9)).toBe(true);
    }
  });
});
