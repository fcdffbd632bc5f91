import { describe, expect, test } from "bun:test";
import { median, pairedShift } from "../../../scripts/bench/stats.ts";

describe("median", () => {
  test("odd and even counts, unsorted input left as it was", () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe("pairedShift", () => {
  test("a constant difference is the estimate and both bounds", () => {
    const without = Array.from({ length: 30 }, (_, i) => 70 + (i % 7) * 3);
    const r = pairedShift(without.map((x) => x + 4), without);
    expect(r).toEqual({ value: 4, low: 4, high: 4, medianOfDifferences: 4 });
  });

  test("is the median of the Walsh averages", () => {
    // Differences 1, 2, 10: averages 1, 1.5, 2, 5.5, 6, 10 -> median 3.75.
    const r = pairedShift([1, 2, 10], [0, 0, 0]);
    expect(r.value).toBe(3.75);
    expect(r.medianOfDifferences).toBe(2);
  });

  test("outliers move it less than a mean", () => {
    const d = [...Array.from({ length: 39 }, (_, i) => 3 + ((i % 5) - 2) * 0.5), 400];
    const r = pairedShift(d, d.map(() => 0));
    expect(r.value).toBeGreaterThan(2.5);
    expect(r.value).toBeLessThan(3.6);
  });

  test("the interval holds the true shift about 95% of the time, and narrows with more pairs", () => {
    // A fixed-seed generator: heavy-tailed noise around a shift of 3.
    let seed = 42;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const noise = (): number => {
      const u = rand() - 0.5;
      return Math.tan(Math.PI * u * 0.9) * 4; // Cauchy-like, clipped tails
    };
    const widths: Record<number, number[]> = { 40: [], 160: [] };
    let covered = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      for (const n of [40, 160]) {
        const without = Array.from({ length: n }, () => 75 + noise());
        const withIt = without.map(() => 78 + noise());
        const r = pairedShift(withIt, without);
        expect(r.low).toBeLessThanOrEqual(r.value);
        expect(r.high).toBeGreaterThanOrEqual(r.value);
        (widths[n] as number[]).push(r.high - r.low);
        if (n === 40 && r.low <= 3 && 3 <= r.high) covered++;
      }
    }
    expect(covered / trials).toBeGreaterThan(0.9);
    expect(covered / trials).toBeLessThan(0.99);
    expect(median(widths[160] as number[])).toBeLessThan(median(widths[40] as number[]) * 0.6);
  });

  test("refuses samples of different lengths", () => {
    expect(() => pairedShift([1, 2], [1])).toThrow();
    expect(() => pairedShift([], [])).toThrow();
  });
});
