import { describe, expect, test } from "bun:test";
import { matchesPruneFilters, parsePruneFilters } from "../../../lib/containers/prune.ts";
import { createOptions } from "../../../lib/containers/options.ts";

const NOW = Date.parse("2024-06-01T12:00:00Z");

function rec(created: string, labels: Record<string, string>, imageLabels?: Record<string, string>) {
  return { created, options: createOptions({ labels }), imageConfig: imageLabels ? { Labels: imageLabels } : null };
}

describe("parsePruneFilters", () => {
  test("until takes durations, timestamps and unix seconds", () => {
    expect(parsePruneFilters(["until=1h"], NOW).until).toBe(NOW - 3_600_000);
    expect(parsePruneFilters(["until=2024-05-01T00:00:00Z"], NOW).until).toBe(Date.parse("2024-05-01T00:00:00Z"));
    expect(parsePruneFilters(["until=1700000000"], NOW).until).toBe(1_700_000_000_000);
  });

  test("label and label!", () => {
    expect(parsePruneFilters(["label=env=ci", "label=keep", "label!=tmp"], NOW)).toEqual({
      labels: [{ key: "env", value: "ci" }, { key: "keep" }],
      notLabels: [{ key: "tmp" }],
    });
  });

  test("unknown filters and bad formats are refused", () => {
    expect(() => parsePruneFilters(["status=exited"], NOW)).toThrow("invalid filter 'status'");
    expect(() => parsePruneFilters(["until"], NOW)).toThrow(/bad format of filter/);
    expect(() => parsePruneFilters(["until=yesterday"], NOW)).toThrow(/invalid time value/);
  });
});

describe("matchesPruneFilters", () => {
  const old = rec("2024-01-01T00:00:00Z", { env: "ci" });
  const recent = rec("2024-06-01T11:59:00Z", { env: "dev", tmp: "1" }, { vendor: "x" });

  test("no filters: everything", () => {
    expect(matchesPruneFilters(old, parsePruneFilters([], NOW))).toBe(true);
  });

  test("until keeps newer containers", () => {
    const f = parsePruneFilters(["until=1h"], NOW);
    expect(matchesPruneFilters(old, f)).toBe(true);
    expect(matchesPruneFilters(recent, f)).toBe(false);
  });

  test("labels, including the image's", () => {
    expect(matchesPruneFilters(old, parsePruneFilters(["label=env=ci"], NOW))).toBe(true);
    expect(matchesPruneFilters(recent, parsePruneFilters(["label=env=ci"], NOW))).toBe(false);
    expect(matchesPruneFilters(recent, parsePruneFilters(["label=vendor"], NOW))).toBe(true);
    expect(matchesPruneFilters(recent, parsePruneFilters(["label!=tmp"], NOW))).toBe(false);
    expect(matchesPruneFilters(old, parsePruneFilters(["label!=tmp"], NOW))).toBe(true);
  });
});
