import { performance } from "node:perf_hooks";

/** Which of our RFC 3261 §17 timers caused a retransmission. */
export type RetransmitTimer = "A" | "E" | "G";

/** One SIP message as it crossed our socket, with the monotonic time it did so. */
export interface TraceEntry {
  /** Monotonic milliseconds (see monotonicMs), taken next to the socket call. */
  readonly at: number;
  readonly direction: "sent" | "received";
  readonly transport: string;
  /** Our address, "ip:port" (IPv6 in brackets). */
  readonly local: string;
  /** The peer's address, "ip:port". */
  readonly remote: string;
  /** Request line or status line. */
  readonly summary: string;
  readonly method?: string;
  readonly status?: number;
  readonly cseqMethod?: string;
  readonly cseq?: number;
  readonly callId?: string;
  readonly branch?: string;
  /** True when this exact message already crossed the socket in the same direction. */
  readonly retransmission: boolean;
  /** Set when our UDP reliability layer resent it. */
  readonly timer?: RetransmitTimer;
  readonly bytes: number;
  /** The message text (capped for garbage that never parsed). */
  readonly message: string;
  /** Why the message was dropped before reaching the SIP stack, when it was. */
  readonly dropped?: string;
}

/** Receives every trace entry of a transport. */
export type TraceSink = (entry: TraceEntry) => void;

/**
 * Monotonic clock in milliseconds; the one clock every SIP duration in probe112 is measured
 * with. It is process.hrtime, which every thread shares, so a worker's stamps compare directly.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Wall-clock time minus monotonic time, taken once with sub-millisecond precision. */
const WALL_MINUS_MONOTONIC = performance.timeOrigin + performance.now() - monotonicMs();

/** Wall-clock ISO timestamp of a monotonic reading, for display and journals only. */
export function wallClockOf(at: number): string {
  return new Date(WALL_MINUS_MONOTONIC + at).toISOString();
}

/**
 * Remembers recently seen message texts so that resent copies are flagged as retransmissions,
 * whoever resent them (our timers, SIP.js's 2xx/ACK resends, or the peer).
 */
export class RecentMessages {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly capacity = 512,
    private readonly ttlMs = 32_000,
  ) {}

  /** Records `key` and reports whether it was seen within the TTL. */
  check(key: string, now: number): boolean {
    const prev = this.seen.get(key);
    this.seen.delete(key);
    this.seen.set(key, now);
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return prev !== undefined && now - prev <= this.ttlMs;
  }

  clear(): void {
    this.seen.clear();
  }
}
