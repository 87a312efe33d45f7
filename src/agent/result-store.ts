import type { SipCallResult } from "../results/result.js";

/**
 * Recent results in memory for the API and the status page: the last result of every check, a
 * ring of recent results, and recent failures kept apart so that a burst of successes never
 * pushes the evidence of a failure out (the way blackbox_exporter preserves failed probes).
 */
export class ResultStore {
  private readonly ring: SipCallResult[] = [];
  private readonly failures: SipCallResult[] = [];
  private readonly latest = new Map<string, SipCallResult>();

  constructor(
    private readonly capacity = 500,
    private readonly failureCapacity = 100,
  ) {}

  add(r: SipCallResult): void {
    this.ring.push(r);
    if (this.ring.length > this.capacity) this.ring.shift();
    if (!r.success) {
      this.failures.push(r);
      if (this.failures.length > this.failureCapacity) this.failures.shift();
    }
    if (r.attempt !== "fallback") this.latest.set(r.check, r);
  }

  /** The last result of each check. */
  lastByCheck(): ReadonlyMap<string, SipCallResult> {
    return this.latest;
  }

  /** Recent results, newest first, optionally for one check; failures kept apart are included. */
  recent(limit = 100, check?: string): SipCallResult[] {
    const all = new Map<string, SipCallResult>();
    for (const r of [...this.failures, ...this.ring]) all.set(r.id, r);
    return [...all.values()]
      .filter((r) => !check || r.check === check)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
      .slice(0, limit);
  }

  /** Forgets checks that are no longer configured (after a reload). */
  retain(checks: ReadonlySet<string>): void {
    for (const k of [...this.latest.keys()]) if (!checks.has(k)) this.latest.delete(k);
  }
}

/** A result without its SIP message trace, for listings. */
export function summarise(
  r: SipCallResult,
): Omit<SipCallResult, "call"> & { call: Omit<SipCallResult["call"], "trace"> } {
  const { trace: _trace, ...call } = r.call;
  return { ...r, call };
}
