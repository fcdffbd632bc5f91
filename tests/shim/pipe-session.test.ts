/**
 * A foreground run's session on the sync pipe: frames that came with the
 * verdict line, frames split across reads, the exit, and a pipe that closes
 * without one (the shim died).
 */
import { describe, expect, test } from "bun:test";
import { pipeSession } from "../../shim/client.ts";
import { encodeFrame, FRAME } from "../../shim/protocol.ts";

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(ctrl) {
      for (const c of chunks) ctrl.enqueue(c);
      ctrl.close();
    },
  });
}

const text = (parts: Uint8Array[]): string => parts.map((p) => new TextDecoder().decode(p)).join("");

describe("pipeSession", () => {
  test("output in order per stream, then the exit code; closed at EOF", async () => {
    const bytes = [
      encodeFrame(FRAME.STDOUT, "one\n"),
      encodeFrame(FRAME.STDERR, "warn\n"),
      encodeFrame(FRAME.STDOUT, "two\n"),
      encodeFrame(FRAME.EXIT, JSON.stringify({ exitCode: 3 })),
    ];
    const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of bytes) {
      all.set(b, at);
      at += b.length;
    }
    // The first frame and a half came with the verdict; the rest in odd pieces.
    const head = all.subarray(0, (bytes[0] as Uint8Array).length + 3);
    const rest = all.subarray(head.length);
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    const s = pipeSession({ head, stream: streamOf([rest.subarray(0, 5), rest.subarray(5, 6), rest.subarray(6)]) }, { onStdout: (d) => out.push(d), onStderr: (d) => err.push(d) });
    expect(await s.done).toBe(3);
    await s.closed;
    expect(text(out)).toBe("one\ntwo\n");
    expect(text(err)).toBe("warn\n");
  });

  test("a pipe that ends without an exit frame: no code, and closed", async () => {
    const s = pipeSession({ head: new Uint8Array(0), stream: streamOf([encodeFrame(FRAME.STDOUT, "partial")]) }, {});
    expect(await s.done).toBeUndefined();
    await s.closed;
  });
});
