import { describe, expect, it } from "vitest";
import {
  counterIncrease,
  histogramQuantile,
  STALENESS_SECONDS,
  secondsWhere,
  timeline,
} from "../../src/report/series-math.js";

// The arithmetic under every figure of the report, on samples small enough to check by eye.

describe("counterIncrease over (from, to]", () => {
  it("is the growth after the last sample at or before `from`, up to the last at or before `to`", () => {
    const s = [
      [90, 10],
      [100, 12],
      [110, 15],
      [120, 15],
      [130, 20],
      [140, 99],
    ] as const;
    // Base 12 (the sample at from = 100 is outside the range but is its baseline): 20 − 12.
    expect(counterIncrease(s, 100, 130)).toBe(8);
    // A sample after `to` is not counted.
    expect(counterIncrease(s, 100, 139)).toBe(8);
    expect(counterIncrease(s, 95, 110)).toBe(5);
    expect(counterIncrease(s, 140, 200)).toBe(0);
    expect(counterIncrease([], 0, 100)).toBe(0);
  });

  it("counts a reset (a restarted agent) from zero", () => {
    // 100 → 104 (+4), restart: 1 (+1), 3 (+2), reset to 0 (+0), 2 (+2).
    const s = [
      [0, 100],
      [10, 104],
      [20, 1],
      [30, 3],
      [40, 0],
      [50, 2],
    ] as const;
    expect(counterIncrease(s, 0, 50)).toBe(9);
  });

  it("counts a series first seen inside the range from zero (it was created there)", () => {
    expect(
      counterIncrease(
        [
          [50, 1],
          [60, 3],
        ],
        0,
        100,
      ),
    ).toBe(3);
  });

  it("a drop is a reset, counted from zero: never a negative increase", () => {
    const v = counterIncrease(
      [
        [10, 5],
        [20, 4],
        [30, 4],
      ],
      0,
      30,
    );
    expect(v).toBe(9);
  });
});

describe("timeline of a gauge", () => {
  it("each sample holds until the next, at most the staleness; gaps are null; equal neighbours merge", () => {
    expect(STALENESS_SECONDS).toBe(300);
    const segs = timeline(
      [
        [0, 1],
        [60, 1],
        [120, 0],
        [180, 1],
        // Nothing from 180 until 900: the sample at 180 stands until 480.
        [900, 1],
      ],
      0,
      1000,
    );
    expect(segs).toEqual([
      { start: 0, end: 120, value: 1 },
      { start: 120, end: 180, value: 0 },
      { start: 180, end: 480, value: 1 },
      { start: 480, end: 900, value: null },
      { start: 900, end: 1000, value: 1 },
    ]);
    expect(secondsWhere(segs, (v) => v === 1)).toBe(120 + 300 + 100);
    expect(secondsWhere(segs, (v) => v === 0)).toBe(60);
    expect(secondsWhere(segs, (v) => v === null)).toBe(420);
  });

  it("a sample before the range reaches into it; nothing before it is unknown", () => {
    expect(
      timeline(
        [
          [-100, 0],
          [50, 1],
        ],
        0,
        100,
      ),
    ).toEqual([
      { start: 0, end: 50, value: 0 },
      { start: 50, end: 100, value: 1 },
    ]);
    expect(timeline([[50, 1]], 0, 100)).toEqual([
      { start: 0, end: 50, value: null },
      { start: 50, end: 100, value: 1 },
    ]);
    expect(timeline([[-400, 1]], 0, 100)).toEqual([{ start: 0, end: 100, value: null }]);
  });

  it("a NaN sample is unknown, not a value; samples after the range are ignored", () => {
    expect(
      timeline(
        [
          [0, 1],
          [10, Number.NaN],
          [20, 1],
          [200, 0],
        ],
        0,
        100,
      ),
    ).toEqual([
      { start: 0, end: 10, value: 1 },
      { start: 10, end: 20, value: null },
      { start: 20, end: 100, value: 1 },
    ]);
    expect(timeline([], 0, 100)).toEqual([{ start: 0, end: 100, value: null }]);
  });
});

describe("histogramQuantile, interpolated as Prometheus' histogram_quantile does", () => {
  // Cumulative counts: 10 in (0, 0.1], 30 in (0.1, 0.5], 40 in (0.5, 1], 20 in (1, +Inf).
  const b: Array<[number, number]> = [
    [0.1, 10],
    [0.5, 40],
    [1, 80],
    [Number.POSITIVE_INFINITY, 100],
  ];

  it("interpolates linearly inside the bucket the rank falls in", () => {
    // p50: rank 50 in (0.5, 1] holding 40 from 40: 0.5 + 0.5 × (50 − 40)/40 = 0.625.
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.625, 12);
    // p5: rank 5 in the first bucket, from 0: 0.1 × 5/10 = 0.05.
    expect(histogramQuantile(0.05, b)).toBeCloseTo(0.05, 12);
    // p25: rank 25 in (0.1, 0.5]: 0.1 + 0.4 × 15/30 = 0.3.
    expect(histogramQuantile(0.25, b)).toBeCloseTo(0.3, 12);
    // Bucket order of the input does not matter.
    expect(histogramQuantile(0.5, [...b].reverse())).toBeCloseTo(0.625, 12);
  });

  it("a rank in the +Inf bucket gives the highest finite bound", () => {
    // p95: rank 95 > 80: above every finite bound.
    expect(histogramQuantile(0.95, b)).toBe(1);
  });

  it("a rank on a bucket's upper count ends there", () => {
    // rank 40 = the count at le 0.5: 0.1 + 0.4 × 30/30.
    expect(histogramQuantile(0.4, b)).toBeCloseTo(0.5, 12);
  });

  it("null without observations or without a +Inf bucket: nothing to show, not 0", () => {
    expect(
      histogramQuantile(0.5, [
        [0.1, 0],
        [Number.POSITIVE_INFINITY, 0],
      ]),
    ).toBeNull();
    expect(
      histogramQuantile(0.5, [
        [0.1, 3],
        [1, 5],
      ]),
    ).toBeNull();
    expect(histogramQuantile(0.5, [])).toBeNull();
  });
});
