type Sample = readonly [number, number];

/** Prometheus' staleness: a sample stands for its series at most this long (seconds). */
export const STALENESS_SECONDS = 300;

/**
 * How much a counter grew in (from, to], from its raw samples (which may start before `from`).
 * Resets (a restarted agent) count from zero. A series with no sample at or before `from` counts
 * from zero when it was created inside the range (`createdInRange`); otherwise its first sample is
 * only a baseline, since what it counted before (data missing at the start of the range) may not
 * be the range's.
 */
export function counterIncrease(
  samples: readonly Sample[],
  from: number,
  to: number,
  createdInRange = true,
): number {
  let prev: number | undefined;
  let total = 0;
  for (const [t, v] of samples) {
    if (t > to) break;
    if (t <= from || (prev === undefined && !createdInRange)) {
      prev = v;
      continue;
    }
    const base = prev ?? 0;
    total += v >= base ? v - base : v;
    prev = v;
  }
  return total;
}

/** A stretch of time with one value, or none known (`null`: no sample, or stale). */
export interface Segment {
  readonly start: number;
  readonly end: number;
  readonly value: number | null;
}

/**
 * The values a gauge held over [from, to]: each sample holds until the next one, for at most
 * {@link STALENESS_SECONDS}; gaps are segments of `null`. Adjacent equal segments are merged.
 */
export function timeline(
  samples: readonly Sample[],
  from: number,
  to: number,
  staleness = STALENESS_SECONDS,
): Segment[] {
  const out: Segment[] = [];
  const push = (start: number, end: number, value: number | null) => {
    const s = Math.max(start, from);
    const e = Math.min(end, to);
    if (e <= s) return;
    const last = out[out.length - 1];
    if (last && last.value === value && last.end === s) out[out.length - 1] = { ...last, end: e };
    else out.push({ start: s, end: e, value });
  };
  let cursor = from;
  for (let i = 0; i < samples.length; i++) {
    const [t, v] = samples[i]!;
    if (t > to) break;
    const next = samples[i + 1]?.[0] ?? Number.POSITIVE_INFINITY;
    const until = Math.min(next, t + staleness);
    if (until <= from) continue;
    if (t > cursor) push(cursor, t, null);
    push(t, until, Number.isNaN(v) ? null : v);
    cursor = Math.max(cursor, until);
  }
  if (cursor < to) push(cursor, to, null);
  return out;
}

/** Seconds of `segments` whose value satisfies `pred`. */
export function secondsWhere(segments: readonly Segment[], pred: (v: number | null) => boolean): number {
  return segments.reduce((sum, s) => sum + (pred(s.value) ? s.end - s.start : 0), 0);
}

/**
 * The q-quantile of a histogram from its cumulative bucket counts, the way Prometheus'
 * histogram_quantile interpolates: linearly inside the bucket the rank falls in; a rank in the
 * +Inf bucket gives the highest finite bound. `null` with no observations.
 */
export function histogramQuantile(q: number, buckets: ReadonlyArray<readonly [le: number, count: number]>) {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted[sorted.length - 1]?.[1] ?? 0;
  if (sorted.length < 2 || total <= 0 || sorted[sorted.length - 1]![0] !== Number.POSITIVE_INFINITY)
    return null;
  const rank = q * total;
  let i = sorted.findIndex(([, c]) => c >= rank);
  if (i < 0) i = sorted.length - 1;
  if (i === sorted.length - 1) return sorted[sorted.length - 2]![0];
  const [end, count] = sorted[i]!;
  const [start, below] = i === 0 ? [0, 0] : sorted[i - 1]!;
  if (i === 0 && end <= 0) return end;
  const inBucket = count - below;
  return inBucket === 0 ? end : start + ((end - start) * (rank - below)) / inBucket;
}
