import { describe, expect, it } from "vitest";
import { ReceiveStats } from "../../src/media/receive-stats.js";

/** Feeds packets as (seq, arrival ms) with timestamps advancing 160 per sequence number. */
function feed(stats: ReceiveStats, packets: Array<[number, number]>, ts0 = 1000, seq0 = packets[0]![0]) {
  return packets.map(([seq, at]) => stats.onPacket(seq & 0xffff, ts0 + (seq - seq0) * 160, at));
}

describe("RFC 3550 receive statistics", () => {
  it("a clean 20 ms stream: nothing lost, zero jitter", () => {
    const s = new ReceiveStats();
    feed(
      s,
      Array.from({ length: 50 }, (_, i) => [100 + i, i * 20] as [number, number]),
    );
    expect(s.snapshot()).toEqual({
      received: 50,
      expected: 50,
      lost: 0,
      duplicates: 0,
      reordered: 0,
      jitterSeconds: 0,
      longestGapSeconds: 0.02,
      maxBurstLoss: 0,
    });
  });

  it("counts loss, the longest burst and the longest gap", () => {
    const s = new ReceiveStats();
    const kept = Array.from({ length: 20 }, (_, i) => i).filter((i) => ![3, 10, 11, 12].includes(i));
    feed(
      s,
      kept.map((i) => [i, i * 20] as [number, number]),
      1000,
      0,
    );
    const snap = s.snapshot();
    expect(snap).toMatchObject({ received: 16, expected: 20, lost: 4, maxBurstLoss: 3 });
    expect(snap.longestGapSeconds).toBeCloseTo(0.08, 6);
  });

  it("wraps the sequence number without inventing loss", () => {
    const s = new ReceiveStats();
    feed(
      s,
      Array.from({ length: 10 }, (_, i) => [65530 + i, i * 20] as [number, number]),
    );
    expect(s.snapshot()).toMatchObject({ received: 10, expected: 10, lost: 0 });
    expect(s.extendedHighest).toBe(65536 + 3);
  });

  it("tells duplicates from late (reordered) packets", () => {
    const s = new ReceiveStats();
    const verdicts = feed(
      s,
      [
        [1, 0],
        [2, 20],
        [4, 40],
        [3, 45],
        [4, 50],
        [2, 55],
      ],
      1000,
      1,
    );
    expect(verdicts).toEqual(["in_order", "in_order", "in_order", "reordered", "duplicate", "duplicate"]);
    expect(s.snapshot()).toMatchObject({ received: 4, expected: 4, lost: 0, duplicates: 2, reordered: 1 });
  });

  it("interarrival jitter converges on the transit-time variation (A.8), in seconds", () => {
    const s = new ReceiveStats();
    // Arrivals alternate 10 ms early and late: |D| = 20 ms = 160 units every packet.
    feed(
      s,
      Array.from({ length: 400 }, (_, i) => [i, i * 20 + (i % 2 ? 10 : 0)] as [number, number]),
      0,
      0,
    );
    expect(s.snapshot().jitterSeconds).toBeCloseTo(0.01, 3);
    expect(s.jitterUnits).toBeGreaterThan(75);
  });

  it("resynchronises after a sender restart (two sequential packets after a big jump)", () => {
    const s = new ReceiveStats();
    feed(
      s,
      [
        [10, 0],
        [11, 20],
      ],
      0,
      10,
    );
    expect(s.onPacket(40000, 0, 40)).toBe("restart");
    expect(s.onPacket(40001, 160, 60)).toBe("restart");
    expect(s.onPacket(40002, 320, 80)).toBe("in_order");
    expect(s.snapshot()).toMatchObject({ lost: 0 });
  });

  it("fraction lost per interval in RTCP fixed point", () => {
    const s = new ReceiveStats();
    feed(
      s,
      [0, 1, 3, 4].map((i) => [i, i * 20] as [number, number]),
      0,
      0,
    );
    expect(s.takeFractionLost()).toBe(Math.floor(256 / 5));
    expect(s.takeFractionLost()).toBe(0);
    expect(s.cumulativeLost).toBe(1);
  });
});
