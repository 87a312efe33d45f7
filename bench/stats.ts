/** Median, 95th percentile and maximum of a sample; null fields when it is empty. */
export interface Spread {
  readonly count: number;
  readonly median: number | null;
  readonly p95: number | null;
  readonly max: number | null;
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending values, interpolating linearly between ranks. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** Summarises a sample (any order). */
export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    median: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : null,
  };
}

/** Rounds for reports: results are compared at microsecond level, more digits are noise. */
export function round3(x: number | null): number | null {
  return x === null ? null : Math.round(x * 1000) / 1000;
}
