/**
 * Estimates for the benchmarks. Timings on a shared 2-core VM are skewed
 * and heavy-tailed: medians, and for a difference between two ways of
 * doing the same thing (with and without networking), the Hodges-Lehmann
 * estimate over paired samples with its distribution-free confidence
 * interval. A figure of a few milliseconds drawn from runs that each vary
 * by tens needs both: the interval says whether the verdict would hold on
 * another run.
 */

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** An estimate with the bounds of its 95% confidence interval. */
export interface Estimate {
  value: number;
  low: number;
  high: number;
}

/** A paired shift, with the plain median of the differences beside it (on skewed differences the two part). */
export interface Shift extends Estimate {
  medianOfDifferences: number;
}

/** The 97.5th percentile of the standard normal distribution. */
const Z_975 = 1.959964;

/**
 * How much `with` takes longer than `without`, paired sample by sample
 * (pair i was measured back to back, so drift in the machine's speed falls
 * on both): the Hodges-Lehmann estimate, the median of the Walsh averages
 * (d_i + d_j) / 2 for i <= j, and the interval of the Wilcoxon signed-rank
 * test between two of their order statistics (normal approximation, fine
 * from 20 pairs on). It is as robust to outliers as a median and needs
 * fewer samples for the same precision.
 */
export function pairedShift(withIt: number[], without: number[]): Shift {
  if (withIt.length !== without.length || withIt.length === 0) throw new Error("pairedShift needs two samples of the same, non-zero length");
  const d = withIt.map((x, i) => x - (without[i] as number));
  const n = d.length;
  const walsh: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) walsh.push(((d[i] as number) + (d[j] as number)) / 2);
  walsh.sort((a, b) => a - b);
  const m = walsh.length;
  // w: the signed-rank statistic's 2.5% quantile; the interval runs from the (w+1)th Walsh average to the (m-w)th.
  const w = Math.max(0, Math.floor((n * (n + 1)) / 4 - Z_975 * Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24)));
  return { value: median(walsh), low: walsh[w] as number, high: walsh[m - 1 - w] as number, medianOfDifferences: median(d) };
}
