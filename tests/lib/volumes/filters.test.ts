import { describe, expect, test } from "bun:test";
import { matchesListFilters, matchesPruneFilters, naturalCompare, parseListFilters, parsePruneFilters } from "../../../lib/volumes/filters.ts";

const vol = (name: string, labels: Record<string, string> = {}, anonymous = false) => ({ name, labels, driver: "local" as const, anonymous });

describe("volume ls filters", () => {
  test("parse", () => {
    expect(parseListFilters(["name=web", "label=env=ci", "label=keep", "dangling=true", "driver=local"])).toEqual({
      names: ["web"],
      labels: [{ key: "env", value: "ci" }, { key: "keep" }],
      drivers: ["local"],
      dangling: true,
    });
    expect(parseListFilters(["dangling=0"]).dangling).toBe(false);
  });

  test("bad filters are refused", () => {
    expect(() => parseListFilters(["until=1h"])).toThrow("invalid filter 'until'");
    expect(() => parseListFilters(["name"])).toThrow(/bad format of filter/);
    expect(() => parseListFilters(["dangling=maybe"])).toThrow("invalid filter 'dangling=maybe'");
    expect(() => parseListFilters(["dangling=true", "dangling=false"])).toThrow(/conflicting/);
  });

  test("names match as regular expressions anywhere; several names are alternatives", () => {
    const f = parseListFilters(["name=^web", "name=db$"]);
    expect(matchesListFilters(vol("web-data"), f, () => false)).toBe(true);
    expect(matchesListFilters(vol("main-db"), f, () => false)).toBe(true);
    expect(matchesListFilters(vol("cache"), f, () => false)).toBe(false);
    expect(matchesListFilters(vol("a(b"), parseListFilters(["name=a(b"]), () => false)).toBe(true);
  });

  test("labels must all match", () => {
    const f = parseListFilters(["label=env=ci", "label=keep"]);
    expect(matchesListFilters(vol("x1", { env: "ci", keep: "" }), f, () => false)).toBe(true);
    expect(matchesListFilters(vol("x1", { env: "ci" }), f, () => false)).toBe(false);
    expect(matchesListFilters(vol("x1", { env: "dev", keep: "1" }), f, () => false)).toBe(false);
  });

  test("dangling asks about usage only when filtering on it", () => {
    let asked = 0;
    const used = () => {
      asked++;
      return true;
    };
    expect(matchesListFilters(vol("v1"), parseListFilters([]), used)).toBe(true);
    expect(asked).toBe(0);
    expect(matchesListFilters(vol("v1"), parseListFilters(["dangling=true"]), used)).toBe(false);
    expect(matchesListFilters(vol("v1"), parseListFilters(["dangling=false"]), used)).toBe(true);
    expect(matchesListFilters(vol("v1"), parseListFilters(["dangling=true"]), () => false)).toBe(true);
  });
});

describe("volume prune filters", () => {
  test("parse", () => {
    expect(parsePruneFilters(["label=a=1", "label!=keep", "all=true"])).toEqual({
      labels: [{ key: "a", value: "1" }],
      notLabels: [{ key: "keep" }],
      all: true,
    });
    expect(() => parsePruneFilters(["until=1h"])).toThrow("invalid filter 'until'");
  });

  test("only anonymous volumes unless all (Docker 23+)", () => {
    const none = parsePruneFilters([]);
    expect(matchesPruneFilters(vol("named"), none, { all: false })).toBe(false);
    expect(matchesPruneFilters(vol("anon", {}, true), none, { all: false })).toBe(true);
    expect(matchesPruneFilters(vol("named"), none, { all: true })).toBe(true);
    expect(matchesPruneFilters(vol("named"), parsePruneFilters(["all=1"]), { all: false })).toBe(true);
  });

  test("label and label!", () => {
    const f = parsePruneFilters(["label=tmp", "label!=keep"]);
    expect(matchesPruneFilters(vol("a1", { tmp: "" }), f, { all: true })).toBe(true);
    expect(matchesPruneFilters(vol("a1", { tmp: "", keep: "yes" }), f, { all: true })).toBe(false);
    expect(matchesPruneFilters(vol("a1", {}), f, { all: true })).toBe(false);
  });
});

test("natural order, as docker volume ls sorts", () => {
  expect(["v10", "v2", "a", "v1", "B"].sort(naturalCompare)).toEqual(["B", "a", "v1", "v2", "v10"]);
  expect(naturalCompare("x01", "x1")).toBeGreaterThan(0);
  expect(naturalCompare("same", "same")).toBe(0);
});
