import type { MaintenanceWindow } from "../config/agent-config.js";

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/**
 * True when `check` is inside a maintenance window at `at` (ms). Weekly windows are in UTC; one
 * that ends before it starts runs over midnight into the next day.
 */
export function inMaintenance(windows: readonly MaintenanceWindow[], check: string, at: number): boolean {
  const d = new Date(at);
  const minute = d.getUTCHours() * 60 + d.getUTCMinutes();
  return windows.some((w) => {
    if (w.checks && !w.checks.includes(check)) return false;
    if ("start" in w) return at >= Date.parse(w.start) && at < Date.parse(w.end);
    const from = minutes(w.from);
    const to = minutes(w.to);
    const today = DAYS[d.getUTCDay()]!;
    const yesterday = DAYS[(d.getUTCDay() + 6) % 7]!;
    if (from <= to) return w.weekdays.includes(today) && minute >= from && minute < to;
    return (w.weekdays.includes(today) && minute >= from) || (w.weekdays.includes(yesterday) && minute < to);
  });
}
