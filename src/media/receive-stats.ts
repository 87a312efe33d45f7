/** What happened to one received packet, as the statistics saw it. */
export type PacketVerdict = "in_order" | "reordered" | "duplicate" | "restart";

/** A snapshot of RFC 3550 receive statistics for one source. */
export interface ReceiveSnapshot {
  readonly received: number;
  /** Extended highest sequence − base + 1 (RFC 3550 A.3). */
  readonly expected: number;
  /** expected − received, never below 0 (duplicates can make it negative in RFC 3550). */
  readonly lost: number;
  readonly duplicates: number;
  readonly reordered: number;
  /** Interarrival jitter (RFC 3550 A.8), in seconds. */
  readonly jitterSeconds: number;
  /** Longest time between two consecutive arrivals, in seconds. */
  readonly longestGapSeconds: number;
  /** Most consecutive sequence numbers missing at once. */
  readonly maxBurstLoss: number;
}

const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const SEQ_MOD = 0x10000;
const WINDOW = 1024;

/**
 * RFC 3550 Appendix A.1/A.3/A.8 receive statistics for one SSRC: extended sequence numbers with
 * wrap-around, loss, interarrival jitter, plus what a NOC wants to see besides (duplicates,
 * reordering, the longest silence and the longest loss burst).
 */
export class ReceiveStats {
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private badSeq = SEQ_MOD + 1;
  private count = 0;
  private dups = 0;
  private reorders = 0;
  private transit: number | undefined;
  private jitter = 0;
  private lastArrival: number | undefined;
  private longestGap = 0;
  /** Runs of missing extended sequence numbers a late packet may still fill, [first, last]. */
  private gaps: Array<[number, number]> = [];
  /** Longest run that can no longer be filled. */
  private settledBurst = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  /** Extended sequence numbers seen recently, to tell duplicates from late packets. */
  private readonly seen = new Set<number>();
  private readonly order: number[] = [];

  constructor(private readonly clockRate = 8000) {}

  /**
   * Accounts one packet: sequence number, RTP timestamp, arrival time in monotonic ms. Packets
   * whose timestamp does not follow the sampling clock (RFC 4733 events) pass `timed` false.
   */
  onPacket(seq: number, rtpTimestamp: number, arrivalMs: number, timed = true): PacketVerdict {
    let verdict: PacketVerdict = "in_order";
    if (!this.started) {
      this.reset(seq);
      this.started = true;
    } else {
      const delta = (seq - this.maxSeq + SEQ_MOD) % SEQ_MOD;
      if (delta > 0 && delta < MAX_DROPOUT) {
        const previous = this.cycles + this.maxSeq;
        if (seq < this.maxSeq) this.cycles += SEQ_MOD;
        if (delta > 1) this.gaps.push([previous + 1, previous + delta - 1]);
        this.maxSeq = seq;
        this.settleGaps();
      } else if (delta === 0 || delta > SEQ_MOD - MAX_MISORDER) {
        const ext = this.extend(seq);
        if (this.seen.has(ext)) {
          this.dups++;
          return "duplicate";
        }
        this.reorders++;
        verdict = "reordered";
        this.fillGap(ext);
      } else if (seq === this.badSeq) {
        // Two sequential packets after a big jump: the sender restarted (RFC 3550 A.1).
        this.reset(seq);
        verdict = "restart";
      } else {
        this.badSeq = (seq + 1) % SEQ_MOD;
        return "restart";
      }
    }
    const ext = this.extend(seq);
    if (this.seen.has(ext)) {
      this.dups++;
      return "duplicate";
    }
    this.remember(ext);
    this.count++;
    if (timed) {
      const arrivalTs = Math.round((arrivalMs * this.clockRate) / 1000);
      const t = (arrivalTs - rtpTimestamp) | 0;
      if (this.transit !== undefined) {
        const d = Math.abs((t - this.transit) | 0);
        this.jitter += (d - this.jitter) / 16;
      }
      this.transit = t;
    }
    if (this.lastArrival !== undefined)
      this.longestGap = Math.max(this.longestGap, arrivalMs - this.lastArrival);
    this.lastArrival = arrivalMs;
    return verdict;
  }

  /** The 32-bit extended highest sequence number received (for RTCP report blocks). */
  get extendedHighest(): number {
    return (this.cycles + this.maxSeq) >>> 0;
  }

  /** Interarrival jitter in timestamp units (for RTCP report blocks). */
  get jitterUnits(): number {
    return Math.floor(this.jitter);
  }

  get expected(): number {
    return this.started ? this.cycles + this.maxSeq - this.baseSeq + 1 : 0;
  }

  /** Fraction lost since the previous call, as the 8-bit fixed point of an RTCP report block. */
  takeFractionLost(): number {
    const expected = this.expected;
    const intervalExpected = expected - this.expectedPrior;
    const intervalReceived = this.count - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.count;
    const lost = intervalExpected - intervalReceived;
    return intervalExpected <= 0 || lost <= 0 ? 0 : Math.floor((lost * 256) / intervalExpected);
  }

  /** Cumulative number of packets lost, clamped to the 24-bit signed RTCP field. */
  get cumulativeLost(): number {
    return Math.max(-0x800000, Math.min(0x7fffff, this.expected - this.count));
  }

  snapshot(): ReceiveSnapshot {
    return {
      received: this.count,
      expected: this.expected,
      lost: Math.max(0, this.expected - this.count),
      duplicates: this.dups,
      reordered: this.reorders,
      jitterSeconds: this.jitter / this.clockRate,
      longestGapSeconds: this.longestGap / 1000,
      maxBurstLoss: Math.max(this.settledBurst, ...this.gaps.map(([a, b]) => b - a + 1)),
    };
  }

  /** A late packet arrived: its number is no longer missing. */
  private fillGap(ext: number): void {
    const i = this.gaps.findIndex(([a, b]) => ext >= a && ext <= b);
    if (i < 0) return;
    const [a, b] = this.gaps[i]!;
    const rest: Array<[number, number]> = [];
    if (a <= ext - 1) rest.push([a, ext - 1]);
    if (ext + 1 <= b) rest.push([ext + 1, b]);
    this.gaps.splice(i, 1, ...rest);
  }

  /** Runs too far behind the highest number to be filled by a late packet are final. */
  private settleGaps(): void {
    const horizon = this.cycles + this.maxSeq - MAX_MISORDER;
    while (this.gaps.length > 0 && this.gaps[0]![1] < horizon) {
      const [a, b] = this.gaps.shift()!;
      this.settledBurst = Math.max(this.settledBurst, b - a + 1);
    }
  }

  private reset(seq: number): void {
    // What went missing before a restart stays missing.
    for (const [a, b] of this.gaps) this.settledBurst = Math.max(this.settledBurst, b - a + 1);
    this.gaps = [];
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = SEQ_MOD + 1;
    this.cycles = 0;
    this.seen.clear();
    this.order.length = 0;
  }

  /** Extends a 16-bit sequence number near the current maximum to 32 bits. */
  private extend(seq: number): number {
    const diff = seq - this.maxSeq;
    if (diff > SEQ_MOD / 2) return this.cycles - SEQ_MOD + seq;
    if (diff < -SEQ_MOD / 2) return this.cycles + SEQ_MOD + seq;
    return this.cycles + seq;
  }

  private remember(ext: number): void {
    this.seen.add(ext);
    this.order.push(ext);
    if (this.order.length > WINDOW) this.seen.delete(this.order.shift()!);
  }
}
