import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  fnv1a,
  nextSlot,
  type RunOutcome,
  Scheduler,
  type SchedulerClock,
  type SchedulerHooks,
} from "../../src/agent/scheduler.js";

const fakeClock = (random = () => 0): SchedulerClock => ({
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  random,
});

interface Call {
  check: string;
  target: string;
  attempt: string;
  at: number;
}

function harness(
  opts: {
    outcome?: (c: Call) => RunOutcome;
    durationMs?: number;
    maxCallsPerMinute?: number;
    maintenance?: (check: string, at: number) => boolean;
  } = {},
) {
  const calls: Call[] = [];
  const finished: Call[] = [];
  const skipped: Array<{ check: string; reason: string }> = [];
  const states: Array<{ check: string; up: boolean }> = [];
  const lags: number[] = [];
  const hooks: SchedulerHooks = {
    run: (check, target, attempt, signal) => {
      const c = { check, target, attempt, at: Date.now() };
      calls.push(c);
      // Like a real probe: told to stop, it ends cleanly, which takes a moment (a CANCEL or BYE).
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          finished.push(c);
          resolve(opts.outcome?.(c) ?? { success: true, probeError: false });
        }, opts.durationMs ?? 1000);
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          setTimeout(() => {
            finished.push({ ...c, attempt: `${c.attempt} (stopped)` });
            resolve({ success: false, probeError: false });
          }, 200);
        });
      });
    },
    skipped: (check, reason) => skipped.push({ check, reason }),
    state: (check, up) => states.push({ check, up }),
    lag: (s) => lags.push(s),
    ...(opts.maintenance ? { inMaintenance: opts.maintenance } : {}),
  };
  const s = new Scheduler(
    hooks,
    { agentId: "agent-1", maxCallsPerMinute: opts.maxCallsPerMinute ?? 100, startupDelayMaxMs: 30_000 },
    fakeClock(),
  );
  return { s, calls, finished, skipped, states, lags };
}

/** Stops the scheduler while fake time passes, so runs told to stop can finish ending. */
async function stopWithTime(s: Scheduler): Promise<void> {
  const stopping = s.stop();
  await vi.advanceTimersByTimeAsync(1_000);
  await stopping;
}

const check = (
  name: string,
  intervalMs = 60_000,
  extra: Partial<{ confirmAfterMs: number; fallbacks: string[] }> = {},
) => ({
  name,
  intervalMs,
  confirmAfterMs: extra.confirmAfterMs ?? 10_000,
  fallbacks: extra.fallbacks ?? [],
});

describe("Scheduler", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-28T12:00:00Z"));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("spreads checks by a stable hash of agent and check, and keeps their interval", async () => {
    const { s, calls } = harness({ durationMs: 10 });
    s.setChecks([check("a.x"), check("b.x"), check("c.x")]);
    s.start();
    await vi.advanceTimersByTimeAsync(200_000);
    const start = new Date("2026-11-28T12:00:00Z").getTime();
    for (const name of ["a.x", "b.x", "c.x"]) {
      const times = calls.filter((c) => c.check === name).map((c) => c.at);
      const offset = fnv1a(`agent-1|${name}`) % 60_000;
      expect(times[0]).toBe(nextSlot(start, 60_000, offset));
      expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual(times.slice(1).map(() => 60_000));
    }
    expect(new Set(calls.slice(0, 3).map((c) => c.at)).size).toBe(3);
    await stopWithTime(s);
  });

  it("waits a random delay after start before the first run: a reboot never fires a burst", async () => {
    const s = new Scheduler(
      { run: async () => ({ success: true, probeError: false }) },
      { agentId: "agent-1", maxCallsPerMinute: 100, startupDelayMaxMs: 30_000 },
      fakeClock(() => 0.99),
    );
    s.setChecks([check("a.x", 10_000)]);
    s.start();
    const first = s.schedule()[0]!.nextAt;
    expect(first - Date.now()).toBeGreaterThanOrEqual(9_900);
    await stopWithTime(s);
  });

  it("never overlaps a check with itself: a slot that finds it running is skipped", async () => {
    const { s, calls, skipped } = harness({ durationMs: 25_000 });
    s.setChecks([check("slow.x", 10_000)]);
    s.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(skipped.filter((k) => k.reason === "overlap").length).toBeGreaterThan(0);
    const starts = calls.map((c) => c.at);
    for (let i = 1; i < starts.length; i++)
      expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(25_000);
    await stopWithTime(s);
  });

  it("holds an agent-wide cap on calls per minute", async () => {
    const { s, calls, skipped } = harness({ durationMs: 10, maxCallsPerMinute: 5 });
    s.setChecks(Array.from({ length: 20 }, (_, i) => check(`p${i}.x`, 10_000)));
    s.start();
    await vi.advanceTimersByTimeAsync(180_000);
    for (let t = calls[0]!.at; t < Date.now(); t += 1000) {
      expect(calls.filter((c) => c.at > t - 60_000 && c.at <= t).length).toBeLessThanOrEqual(5);
    }
    expect(skipped.some((k) => k.reason === "call_cap")).toBe(true);
    await stopWithTime(s);
  });

  it("confirms a failure with a quick re-probe before the check counts as down, and recovers on success", async () => {
    let fail = true;
    const { s, calls, states } = harness({
      durationMs: 100,
      outcome: () => ({ success: !fail, probeError: false }),
    });
    s.setChecks([check("p.x", 60_000, { confirmAfterMs: 5_000 })]);
    s.start();
    await vi.advanceTimersByTimeAsync(60_000);
    const first = calls[0]!;
    expect(calls[1]).toMatchObject({ attempt: "confirm" });
    expect(calls[1]!.at - first.at).toBe(5_100);
    expect(states).toEqual([{ check: "p.x", up: false }]);
    expect(s.isUp("p.x")).toBe(false);
    fail = false;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(states).toEqual([
      { check: "p.x", up: false },
      { check: "p.x", up: true },
    ]);
    await stopWithTime(s);
  });

  it("one lost call is not an outage: a passing confirmation keeps the check up", async () => {
    let n = 0;
    const { s, calls, states } = harness({
      durationMs: 100,
      outcome: () => ({ success: n++ !== 0, probeError: false }),
    });
    s.setChecks([check("p.x", 60_000, { confirmAfterMs: 5_000 })]);
    s.start();
    await vi.advanceTimersByTimeAsync(70_000);
    expect(calls.map((c) => c.attempt).slice(0, 2)).toEqual(["scheduled", "confirm"]);
    expect(states).toEqual([]);
  });

  it("our own faults (probe_error) never make a check down", async () => {
    const { s, calls, states } = harness({
      durationMs: 100,
      outcome: () => ({ success: false, probeError: true }),
    });
    s.setChecks([check("p.x", 10_000)]);
    s.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.length).toBeGreaterThan(3);
    expect(calls.every((c) => c.attempt === "scheduled")).toBe(true);
    expect(states).toEqual([]);
    await stopWithTime(s);
  });

  it("while a check is down, each run also probes its fallback destinations", async () => {
    const { s, calls } = harness({
      durationMs: 100,
      outcome: (c) => ({ success: c.target !== "p.x", probeError: false }),
    });
    s.setChecks([check("p.x", 20_000, { confirmAfterMs: 2_000, fallbacks: ["p.fb1", "p.fb2"] })]);
    s.start();
    await vi.advanceTimersByTimeAsync(60_000);
    const fallbacks = calls.filter((c) => c.attempt === "fallback");
    expect(fallbacks.map((c) => c.target).slice(0, 2)).toEqual(["p.fb1", "p.fb2"]);
    expect(calls.find((c) => c.attempt === "fallback")!.at).toBeGreaterThan(
      calls.find((c) => c.attempt === "confirm")!.at,
    );
    await stopWithTime(s);
  });

  it("stop waits for fallback calls in flight, not only for the checks' own runs", async () => {
    const { s, calls, finished } = harness({
      durationMs: 5_000,
      outcome: (c) => ({ success: c.target !== "p.x", probeError: false }),
    });
    s.setChecks([check("p.x", 20_000, { confirmAfterMs: 6_000, fallbacks: ["p.fb1"] })]);
    s.start();
    // Down after the confirmation; the next slot runs the check and then its fallback.
    while (!calls.some((c) => c.attempt === "fallback")) await vi.advanceTimersByTimeAsync(500);
    let stopped = false;
    const stopping = s.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(100);
    expect(stopped, "stop returned while the fallback call was still ending").toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    await stopping;
    const fallback = calls.find((c) => c.attempt === "fallback")!;
    expect(finished.some((f) => f.target === fallback.target && f.at === fallback.at)).toBe(true);
  });

  it("skips runs inside a maintenance window", async () => {
    const end = Date.now() + 30_000;
    const { s, calls, skipped } = harness({ durationMs: 10, maintenance: (_c, at) => at < end });
    s.setChecks([check("p.x", 10_000)]);
    s.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.every((c) => c.at >= end)).toBe(true);
    expect(skipped.filter((k) => k.reason === "maintenance").length).toBeGreaterThanOrEqual(2);
    await stopWithTime(s);
  });

  it("a sweep runs every check now, waits for budget instead of breaking the cap, and reuses a run in progress", async () => {
    const { s, calls } = harness({ durationMs: 500, maxCallsPerMinute: 3 });
    s.setChecks([check("a.x"), check("b.x"), check("c.x"), check("d.x")]);
    s.start();
    const done = s.sweep();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls.filter((c) => c.attempt === "sweep")).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(61_000);
    const results = await done;
    expect(results.map((r) => r.check).sort()).toEqual(["a.x", "b.x", "c.x", "d.x"]);
    await stopWithTime(s);
  });

  it("a reload keeps unchanged checks on their rhythm and drops removed ones", async () => {
    const { s, calls } = harness({ durationMs: 10 });
    s.setChecks([check("keep.x"), check("drop.x")]);
    s.start();
    await vi.advanceTimersByTimeAsync(90_000);
    const keepBefore = calls.filter((c) => c.check === "keep.x").map((c) => c.at);
    s.setChecks([check("keep.x"), check("new.x")]);
    const droppedAt = Date.now();
    await vi.advanceTimersByTimeAsync(120_000);
    const keep = calls.filter((c) => c.check === "keep.x").map((c) => c.at);
    expect((keep[keep.length - 1]! - keepBefore[0]!) % 60_000).toBe(0);
    expect(calls.some((c) => c.check === "drop.x" && c.at > droppedAt)).toBe(false);
    expect(calls.some((c) => c.check === "new.x")).toBe(true);
    await stopWithTime(s);
  });

  it("stop aborts runs in progress and waits for them", async () => {
    let aborted = false;
    const s = new Scheduler(
      {
        run: (_c, _t, _a, signal) =>
          new Promise((resolve) => {
            signal.addEventListener("abort", () => {
              aborted = true;
              resolve({ success: false, probeError: false });
            });
          }),
      },
      { agentId: "a", maxCallsPerMinute: 10, startupDelayMaxMs: 0 },
      fakeClock(),
    );
    s.setChecks([check("p.x", 1_000)]);
    s.start();
    await vi.advanceTimersByTimeAsync(1_500);
    await stopWithTime(s);
    expect(aborted).toBe(true);
  });
});
