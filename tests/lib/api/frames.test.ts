/** Stream framing, the archive stat header, detach keys, addresses and versions: pure logic. */
import { describe, expect, test } from "bun:test";
import { defaultSocketPath, parseListenAddress } from "../../../lib/api/address.ts";
import { encodePathStat, GO_MODE, goFileMode, parseFirstEntry, pathStatOf } from "../../../lib/api/archive-stat.ts";
import { DetachMatcher, detachKeysOf } from "../../../lib/api/detach-keys.ts";
import { encodeMuxFrame, framer, MuxDecoder } from "../../../lib/api/frames.ts";
import { compareVersions, requestVersion, splitVersion } from "../../../lib/api/versioning.ts";
import { encodeHeader } from "../../../lib/images/commit-layer.ts";

const enc = new TextEncoder();

describe("multiplexed frames", () => {
  test("8-byte header: stream, three zero bytes, big-endian size", () => {
    const f = encodeMuxFrame(2, enc.encode("err"));
    expect([...f]).toEqual([2, 0, 0, 0, 0, 0, 0, 3, 101, 114, 114]);
    const big = encodeMuxFrame(1, new Uint8Array(300));
    expect([...big.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0, 0, 1, 44]);
  });

  test("decoder reassembles frames split at any byte", () => {
    const bytes = new Uint8Array([...encodeMuxFrame(1, enc.encode("hello")), ...encodeMuxFrame(2, enc.encode("world!")), ...encodeMuxFrame(1, new Uint8Array(0))]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new MuxDecoder();
      const frames = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      expect(frames.map((f) => [f.stream, new TextDecoder().decode(f.payload)])).toEqual([
        [1, "hello"],
        [2, "world!"],
        [1, ""],
      ]);
      expect(d.pending).toBe(0);
    }
  });

  test("chunks over 1 MiB are split into several frames", () => {
    const payload = new Uint8Array((1 << 20) + 10).fill(7);
    const frames = new MuxDecoder().push(encodeMuxFrame(1, payload));
    expect(frames.map((f) => f.payload.length)).toEqual([1 << 20, 10]);
  });

  test("a terminal stream is raw", () => {
    const raw = framer(true)(1, enc.encode("x"));
    expect([...raw]).toEqual([120]);
    expect(framer(false)(1, enc.encode("x")).length).toBe(9);
  });
});

describe("X-Docker-Container-Path-Stat", () => {
  function tarOf(headers: Uint8Array[]): Uint8Array {
    const total = headers.reduce((n, h) => n + h.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const h of headers) {
      out.set(h, at);
      at += h.length;
    }
    return out;
  }

  test("a directory: Go's ModeDir plus permissions", () => {
    const t = tarOf(encodeHeader({ name: "etc/", mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1700000000, type: "5" }));
    const head = parseFirstEntry(t);
    expect(head?.type).toBe("5");
    const stat = pathStatOf(head!, "etc");
    expect(stat.mode).toBe(GO_MODE.dir + 0o755);
    expect(stat.name).toBe("etc");
    expect(stat.mtime).toBe(new Date(1700000000 * 1000).toISOString());
  });

  test("a symlink carries its target; a long name comes from PAX", () => {
    const name = `d/${"n".repeat(150)}`;
    const t = tarOf(encodeHeader({ name, mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 1, type: "2", linkname: "/target" }));
    const head = parseFirstEntry(t);
    expect(head?.name).toBe(name);
    const stat = pathStatOf(head!, "x");
    expect(stat.linkTarget).toBe("/target");
    expect(stat.mode).toBe(GO_MODE.symlink + 0o777);
  });

  test("a file: size, setuid bit; undefined until the header is complete", () => {
    const t = tarOf(encodeHeader({ name: "bin/su", mode: 0o4755, uid: 0, gid: 0, size: 1234, mtime: 1, type: "0" }));
    expect(parseFirstEntry(t.subarray(0, 100))).toBeUndefined();
    const stat = pathStatOf(parseFirstEntry(t)!, "su");
    expect(stat.size).toBe(1234);
    expect(stat.mode).toBe(GO_MODE.setuid + 0o755);
    expect(JSON.parse(Buffer.from(encodePathStat(stat), "base64").toString())).toEqual(stat);
  });

  test("goFileMode of devices and fifos", () => {
    expect(goFileMode({ mode: 0o666, type: "3" })).toBe(GO_MODE.device + GO_MODE.charDevice + 0o666);
    expect(goFileMode({ mode: 0o644, type: "6" })).toBe(GO_MODE.namedPipe + 0o644);
  });
});

describe("detach keys", () => {
  test("default Ctrl-P Ctrl-Q; partial matches are passed on", () => {
    const m = new DetachMatcher(detachKeysOf(undefined));
    expect([...m.feed(new Uint8Array([97, 16])).forward]).toEqual([97]);
    const r = m.feed(new Uint8Array([98]));
    expect([...r.forward]).toEqual([16, 98]);
    expect(r.hit).toBe(false);
    expect(m.feed(new Uint8Array([16])).hit).toBe(false);
    expect(m.feed(new Uint8Array([17, 99])).hit).toBe(true);
  });

  test("custom keys", () => {
    const m = new DetachMatcher(detachKeysOf("ctrl-x,a"));
    expect(m.feed(new Uint8Array([24, 97])).hit).toBe(true);
  });
});

describe("listen addresses", () => {
  test("unix and tcp forms", () => {
    expect(parseListenAddress("unix:///run/x.sock")).toEqual({ kind: "unix", path: "/run/x.sock" });
    expect(parseListenAddress("/tmp/a.sock")).toEqual({ kind: "unix", path: "/tmp/a.sock" });
    expect(parseListenAddress("tcp://127.0.0.1:2375")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 2375 });
    expect(parseListenAddress("tcp://[::1]:2375")).toEqual({ kind: "tcp", host: "::1", port: 2375 });
    expect(() => parseListenAddress("unix://relative")).toThrow(/absolute/);
    expect(() => parseListenAddress("http://x")).toThrow(/invalid listen address/);
  });

  test("default socket: root, rootless with and without XDG_RUNTIME_DIR", () => {
    expect(defaultSocketPath({ uid: 0, env: {}, runRoot: "/run/skiff" })).toBe("/run/skiff/skiff.sock");
    expect(defaultSocketPath({ uid: 1000, env: { XDG_RUNTIME_DIR: "/run/user/1000" }, runRoot: "/x" })).toBe("/run/user/1000/skiff/skiff.sock");
    expect(defaultSocketPath({ uid: 1000, env: {}, runRoot: "/tmp/skiff-run-1000" })).toBe("/tmp/skiff-run-1000/skiff.sock");
  });
});

describe("versions", () => {
  test("split, compare, check", () => {
    expect(splitVersion("/v1.44/containers/json")).toEqual({ version: "1.44", path: "/containers/json" });
    expect(splitVersion("/containers/json")).toEqual({ version: undefined, path: "/containers/json" });
    expect(splitVersion("/v1.44")).toEqual({ version: undefined, path: "/v1.44" });
    expect(compareVersions("1.9", "1.44")).toBe(-1);
    expect(compareVersions("1.44", "1.44")).toBe(0);
    expect(requestVersion("1.41")).toBe("1.41");
    expect(() => requestVersion("2.0")).toThrow(/too new/);
  });
});
