import type { Attempt } from "../results/result.js";

/** The clock and timers the scheduler uses (fake ones in tests). */
export interface SchedulerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  random(): number;
}

export const systemClock: SchedulerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  random: () => Math.random(),
};

export interface ScheduledCheck {
  readonly name: string;
  readonly intervalMs: number;
  readonly confirmAfterMs: number;
  /** Names of the extra runs (same path, fallback destinations) made while this check is down. */
  readonly fallbacks: readonly string[];
}

/** What one run reported back. */
export interface RunOutcome {
  readonly success: boolean;
  /** Our own fault: never makes a path count as down. */
  readonly probeError: boolean;
}

export type SkipReason = "overlap" | "maintenance" | "call_cap";

export interface SchedulerHooks {
  /** Runs one probe; `target` is the check itself or one of its fallbacks. */
  run(check: string, target: string, attempt: Attempt, signal: AbortSignal): Promise<RunOutcome>;
  skipped?(check: string, reason: SkipReason): void;
  /** How late a scheduled run started, in seconds. */
  lag?(seconds: number): void;
  /** The confirmed state of a check changed: down after a confirmed failure, up after a success. */
  state?(check: string, up: boolean): void;
  inMaintenance?(check: string, at: number): boolean;
}

export interface SchedulerOptions {
  readonly agentId: string;
  readonly maxCallsPerMinute: number;
  /** Upper bound of the random delay before a check's first run after start (RFC 6881 ED-81). */
  readonly startupDelayMaxMs?: number;
}

interface CheckState {
  spec: ScheduledCheck;
  offset: number;
  timer: unknown;
  confirmTimer: unknown;
  running: Promise<RunOutcome> | undefined;
  up: boolean;
  failures: number;
  nextAt: number;
}

/** FNV-1a: a stable, well-spread hash for start offsets. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The first slot at or after `t` on the grid offset + k·interval. */
export function nextSlot(t: number, intervalMs: number, offset: number): number {
  const k = Math.ceil((t - offset) / intervalMs);
  return offset + k * intervalMs;
}

/**
 * Runs every check on its interval. Start times are spread by a hash of agent and check (a fixed
 * offset), the first run waits a random delay after start so that a reboot never fires a burst
 * of test calls at the 112 chain, a check never overlaps itself, maintenance windows skip runs,
 * and a hard per-minute cap holds over all checks. A failure is confirmed by a quick re-probe
 * before the check counts as down; while down, its fallback destinations are probed too.
 */
export class Scheduler {
  private readonly checks = new Map<string, CheckState>();
  private readonly callStarts: number[] = [];
  private readonly capWaiters: Array<() => void> = [];
  private capTimer: unknown;
  private started = false;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly fallbackRuns = new Set<Promise<void>>();

  constructor(
    private readonly hooks: SchedulerHooks,
    private readonly opts: SchedulerOptions,
    private readonly clock: SchedulerClock = systemClock,
  ) {}

  /** Starts (or, after a reload, updates) the set of checks; unchanged checks keep their rhythm. */
  setChecks(specs: readonly ScheduledCheck[]): void {
    const names = new Set(specs.map((s) => s.name));
    for (const [name, st] of this.checks) {
      if (!names.has(name)) {
        this.clock.clearTimeout(st.timer);
        this.clock.clearTimeout(st.confirmTimer);
        this.checks.delete(name);
      }
    }
    for (const spec of specs) {
      const existing = this.checks.get(spec.name);
      if (existing) {
        const rhythmChanged = existing.spec.intervalMs !== spec.intervalMs;
        existing.spec = spec;
        if (rhythmChanged && this.started) {
          existing.offset = fnv1a(`${this.opts.agentId}|${spec.name}`) % spec.intervalMs;
          this.clock.clearTimeout(existing.timer);
          this.arm(existing, nextSlot(this.clock.now(), spec.intervalMs, existing.offset));
        }
        continue;
      }
      const st: CheckState = {
        spec,
        offset: fnv1a(`${this.opts.agentId}|${spec.name}`) % spec.intervalMs,
        timer: undefined,
        confirmTimer: undefined,
        running: undefined,
        up: true,
        failures: 0,
        nextAt: 0,
      };
      this.checks.set(spec.name, st);
      if (this.started) this.armFirst(st);
    }
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const st of this.checks.values()) this.armFirst(st);
  }

  /** Stops scheduling, aborts runs in progress (they end cleanly) and waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const st of this.checks.values()) {
      this.clock.clearTimeout(st.timer);
      this.clock.clearTimeout(st.confirmTimer);
    }
    this.clock.clearTimeout(this.capTimer);
    this.abort.abort();
    for (const w of this.capWaiters.splice(0)) w();
    await Promise.all([
      ...[...this.checks.values()].map((st) => st.running?.catch(() => undefined)),
      ...this.fallbackRuns,
    ]);
  }

  /** Fallback calls run beside their check; stop() must wait for them too. */
  private trackFallback(run: Promise<RunOutcome>): void {
    const tracked = run.then(
      () => undefined,
      () => undefined,
    );
    this.fallbackRuns.add(tracked);
    void tracked.then(() => this.fallbackRuns.delete(tracked));
  }

  /** Whether a check currently counts as up. */
  isUp(name: string): boolean | undefined {
    return this.checks.get(name)?.up;
  }

  /** When each check runs next (ms since the epoch). */
  schedule(): Array<{ check: string; nextAt: number; up: boolean }> {
    return [...this.checks.values()].map((s) => ({ check: s.spec.name, nextAt: s.nextAt, up: s.up }));
  }

  /**
   * Runs every check now (an engineer's sweep after a routing change). A check already running
   * is awaited, not doubled; the per-minute cap still holds: calls wait for budget, none skip.
   */
  async sweep(): Promise<Array<{ check: string; outcome: RunOutcome }>> {
    return Promise.all(
      [...this.checks.values()].map(async (st) => {
        if (st.running) return { check: st.spec.name, outcome: await st.running };
        await this.takeBudget(true);
        return { check: st.spec.name, outcome: await this.execute(st, st.spec.name, "sweep") };
      }),
    );
  }

  private armFirst(st: CheckState): void {
    const delay = this.clock.random() * Math.min(st.spec.intervalMs, this.opts.startupDelayMaxMs ?? 30_000);
    this.arm(st, nextSlot(this.clock.now() + delay, st.spec.intervalMs, st.offset));
  }

  private arm(st: CheckState, at: number): void {
    st.nextAt = at;
    st.timer = this.clock.setTimeout(() => void this.onSlot(st, at), Math.max(0, at - this.clock.now()));
  }

  private async onSlot(st: CheckState, scheduledAt: number): Promise<void> {
    if (this.stopping || this.checks.get(st.spec.name) !== st) return;
    this.arm(st, nextSlot(scheduledAt + 1, st.spec.intervalMs, st.offset));
    const now = this.clock.now();
    this.hooks.lag?.((now - scheduledAt) / 1000);
    if (st.running) return this.hooks.skipped?.(st.spec.name, "overlap");
    if (this.hooks.inMaintenance?.(st.spec.name, now))
      return this.hooks.skipped?.(st.spec.name, "maintenance");
    if (!(await this.takeBudget(false))) return this.hooks.skipped?.(st.spec.name, "call_cap");
    const outcome = await this.execute(st, st.spec.name, "scheduled");
    if (!st.up && !outcome.success) {
      // While down, find out whether the path still reaches its fallback destinations.
      for (const fb of st.spec.fallbacks) {
        if (this.stopping) break;
        if (await this.takeBudget(false))
          this.trackFallback(this.hooks.run(st.spec.name, fb, "fallback", this.abort.signal));
        else this.hooks.skipped?.(st.spec.name, "call_cap");
      }
    }
  }

  /** Runs the check once and updates its confirmed state. */
  private execute(st: CheckState, target: string, attempt: Attempt): Promise<RunOutcome> {
    const run = this.hooks
      .run(st.spec.name, target, attempt, this.abort.signal)
      .catch((): RunOutcome => ({ success: false, probeError: true }));
    st.running = run;
    return run.then((outcome) => {
      if (st.running === run) st.running = undefined;
      this.account(st, outcome, attempt);
      return outcome;
    });
  }

  private account(st: CheckState, outcome: RunOutcome, attempt: Attempt): void {
    if (outcome.probeError) return;
    if (outcome.success) {
      st.failures = 0;
      this.clock.clearTimeout(st.confirmTimer);
      st.confirmTimer = undefined;
      if (!st.up) {
        st.up = true;
        this.hooks.state?.(st.spec.name, true);
      }
      return;
    }
    st.failures++;
    if (st.failures >= 2 && st.up) {
      st.up = false;
      this.hooks.state?.(st.spec.name, false);
    }
    // One failed call is not an outage: re-probe soon, unless the next slot comes sooner anyway.
    if (st.failures === 1 && attempt !== "confirm" && !this.stopping) {
      const at = this.clock.now() + st.spec.confirmAfterMs;
      if (at < st.nextAt) {
        st.confirmTimer = this.clock.setTimeout(() => void this.confirm(st), st.spec.confirmAfterMs);
      }
    }
  }

  private async confirm(st: CheckState): Promise<void> {
    st.confirmTimer = undefined;
    if (this.stopping || st.running || this.checks.get(st.spec.name) !== st) return;
    if (!(await this.takeBudget(false))) return this.hooks.skipped?.(st.spec.name, "call_cap");
    await this.execute(st, st.spec.name, "confirm");
  }

  /**
   * Takes one call from the per-minute budget. Scheduled runs skip when it is spent; a sweep
   * waits for it, so an engineer's sweep never breaks the cap either.
   */
  private takeBudget(wait: boolean): Promise<boolean> {
    const now = this.clock.now();
    while (this.callStarts.length && (this.callStarts[0] ?? 0) <= now - 60_000) this.callStarts.shift();
    if (this.callStarts.length < this.opts.maxCallsPerMinute) {
      this.callStarts.push(now);
      return Promise.resolve(true);
    }
    if (!wait || this.stopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.capWaiters.push(() => resolve(!this.stopping));
      this.armCapTimer();
    }).then(async (ok) => (ok ? this.takeBudget(true) : false));
  }

  private armCapTimer(): void {
    if (this.capTimer !== undefined) return;
    const oldest = this.callStarts[0] ?? this.clock.now();
    this.capTimer = this.clock.setTimeout(
      () => {
        this.capTimer = undefined;
        for (const w of this.capWaiters.splice(0)) w();
      },
      Math.max(1, oldest + 60_000 - this.clock.now()),
    );
  }
}
