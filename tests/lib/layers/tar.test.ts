import { describe, expect, test } from "bun:test";
import { parsePaxRecords, readTar } from "../../../lib/layers/tar.ts";
import { chunked, makeTar } from "./helpers.ts";

describe("parsePaxRecords", () => {
  test("keeps values as bytes, including newlines, '=' and invalid UTF-8", () => {
    const rec = (k: string, v: Uint8Array): Buffer => {
      const rest = Buffer.concat([Buffer.from(` ${k}=`), v, Buffer.from("\n")]);
      let len = rest.length + 1;
      while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
      return Buffer.concat([Buffer.from(String(len)), rest]);
    };
    const bin = Uint8Array.from([0xc0, 0x00, 0x0a, 0x3d, 0xff]);
    const buf = Buffer.concat([rec("path", Buffer.from("a/b")), rec("SCHILY.xattr.user.x", bin)]);
    const m = parsePaxRecords(buf);
    expect(Buffer.from(m.get("path") ?? []).toString()).toBe("a/b");
    expect(m.get("SCHILY.xattr.user.x")).toEqual(bin);
    expect(parsePaxRecords(Buffer.from("garbage"))).toEqual(new Map());
    expect(parsePaxRecords(Buffer.from("99 path=x\n"))).toEqual(new Map());
  });
});

describe("readTar", () => {
  test("hands entries and content over in order", async () => {
    const tar = await makeTar([{ name: "a", content: "one" }, { name: "d/", type: "directory" }, { name: "b", content: "two" }]);
    const seen: string[] = [];
    await readTar(chunked(tar, 100), (e) => {
      let body = "";
      seen.push(e.header.name);
      return e.header.type === "file" ? { write: (c) => (body += Buffer.from(c).toString()), end: () => seen.push(body) } : undefined;
    });
    expect(seen).toEqual(["a", "one", "d/", "b", "two"]);
  });

  test("an error from the handler or a sink stops reading and is thrown as is", async () => {
    const tar = await makeTar([{ name: "a", content: "x".repeat(100_000) }, { name: "b", content: "y" }]);
    const boom = new Error("boom");
    let pulled = 0;
    async function* src(): AsyncGenerator<Uint8Array> {
      for await (const c of chunked(tar, 1000)) {
        pulled += c.length;
        yield c;
      }
    }
    await expect(readTar(src(), () => ({ write: () => { throw boom; }, end: () => {} }))).rejects.toBe(boom);
    expect(pulled).toBeLessThan(tar.length);
    await expect(readTar(chunked(tar), (e) => { if (e.header.name === "b") throw boom; return undefined; })).rejects.toBe(boom);
  });
});
