/**
 * Counts events per key in a sliding one-minute window: a caller that tests too often gets 486
 * (RFC 6881 ED-82). Memory is bounded: keys idle for a minute are forgotten.
 */
export class RateLimiter {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** Records an attempt for `key` at `now` (ms) and says whether it is within the limit. */
  allow(key: string, now: number): boolean {
    const since = now - 60_000;
    const list = (this.events.get(key) ?? []).filter((t) => t > since);
    if (list.length >= this.perMinute) {
      this.events.set(key, list);
      return false;
    }
    list.push(now);
    this.events.delete(key);
    this.events.set(key, list);
    if (this.events.size > this.maxKeys) this.prune(since);
    return true;
  }

  private prune(since: number): void {
    for (const [k, list] of this.events) {
      if ((list[list.length - 1] ?? 0) <= since) this.events.delete(k);
    }
    while (this.events.size > this.maxKeys) this.events.delete(this.events.keys().next().value!);
  }
}
