import { describe, expect, test } from "bun:test";
import { ancestorsOf, isWithin, parseEntryName, whiteoutOf } from "../../../lib/layers/paths.ts";

describe("parseEntryName", () => {
  test("normalises ./, doubled and trailing slashes", () => {
    expect(parseEntryName("./a//b/")).toEqual({ ok: true, rel: "a/b" });
    expect(parseEntryName("a/./b")).toEqual({ ok: true, rel: "a/b" });
    expect(parseEntryName("usr/bin/env")).toEqual({ ok: true, rel: "usr/bin/env" });
  });

  test("the root entry normalises to the empty path", () => {
    for (const n of ["./", ".", "././/"]) expect(parseEntryName(n)).toEqual({ ok: true, rel: "" });
  });

  test("refuses absolute, .. and empty names", () => {
    expect(parseEntryName("/etc/x")).toEqual({ ok: false, reason: "absolute path" });
    expect(parseEntryName("//etc/x").ok).toBe(false);
    expect(parseEntryName("../x").ok).toBe(false);
    expect(parseEntryName("a/../../x").ok).toBe(false);
    expect(parseEntryName("a/..").ok).toBe(false);
    expect(parseEntryName("").ok).toBe(false);
    // ".." inside a component is an ordinary name
    expect(parseEntryName("a/..b/c..")).toEqual({ ok: true, rel: "a/..b/c.." });
  });
});

describe("whiteoutOf", () => {
  test("classifies the final component only", () => {
    expect(whiteoutOf("etc/.wh.passwd")).toEqual({ kind: "whiteout", path: "etc/passwd" });
    expect(whiteoutOf(".wh.top")).toEqual({ kind: "whiteout", path: "top" });
    expect(whiteoutOf("var/.wh..wh..opq")).toEqual({ kind: "opaque", dir: "var" });
    expect(whiteoutOf(".wh..wh..opq")).toEqual({ kind: "opaque", dir: "" });
    expect(whiteoutOf(".wh.dir/file")).toEqual({ kind: "none" });
    expect(whiteoutOf("a/.wh..wh.plnk")).toEqual({ kind: "reserved" });
    expect(whiteoutOf("a/.wh.").kind).toBe("invalid");
    expect(whiteoutOf("a/.wh..").kind).toBe("invalid");
    expect(whiteoutOf("a/.wh...").kind).toBe("invalid");
  });
});

describe("path helpers", () => {
  test("isWithin and ancestorsOf", () => {
    expect(isWithin("a/b", "a")).toBe(true);
    expect(isWithin("a", "a")).toBe(true);
    expect(isWithin("ab", "a")).toBe(false);
    expect(isWithin("x", "")).toBe(true);
    expect(ancestorsOf("a/b/c")).toEqual(["a", "a/b"]);
    expect(ancestorsOf("a")).toEqual([]);
  });
});
