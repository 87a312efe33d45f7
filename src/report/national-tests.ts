import { scheduledNationalTest } from "../cellbroadcast/national-test.js";
import type { NationalTestReceipt } from "./model.js";
import type { RawSeries } from "./prometheus-client.js";

/** A receipt this long before the slot still counts (operators start the test early at times). */
export const EARLY_SECONDS = 30 * 60;
/** How long after the slot a late receipt is still looked for (and reported as late). */
export const LATE_SECONDS = 2 * 3600;

/** The scheduled NL-Alert national tests inside [from, to] (unix seconds). */
export function nationalTestSlots(from: number, to: number): number[] {
  const first = new Date(from * 1000).getUTCFullYear();
  const last = new Date(to * 1000).getUTCFullYear();
  const slots: number[] = [];
  for (let y = first; y <= last; y++) {
    for (const m of [6, 12] as const) {
      const t = scheduledNationalTest(y, m).getTime() / 1000;
      if (t >= from && t <= to) slots.push(t);
    }
  }
  return slots;
}

/**
 * Per operator, whether any of its receivers saw the national test at `slot`: the earliest
 * first-seen time of an nl_test alert in [slot − EARLY, slot + LATE]. Receivers without data
 * around the slot are named; an operator whose receivers all lack data gets no verdict.
 */
export function nationalTestReceipts(
  slot: number,
  graceSeconds: number,
  firstSeen: readonly RawSeries[],
  connected: readonly RawSeries[],
): NationalTestReceipt[] {
  const operators = new Map<string, { modems: Set<string>; withData: Set<string>; first: number | null }>();
  const op = (l: Readonly<Record<string, string>>) => {
    const name = l.operator ?? "";
    let o = operators.get(name);
    if (!o) {
      o = { modems: new Set(), withData: new Set(), first: null };
      operators.set(name, o);
    }
    return o;
  };
  for (const s of connected) {
    const o = op(s.labels);
    const modem = s.labels.modem ?? "";
    o.modems.add(modem);
    // Only a receiver connected around the slot could have received it: a disconnected one
    // gives no verdict on its operator.
    if (s.samples.some(([t, v]) => v === 1 && t >= slot - 300 && t <= slot + graceSeconds))
      o.withData.add(modem);
  }
  for (const s of firstSeen) {
    const o = op(s.labels);
    o.modems.add(s.labels.modem ?? "");
    for (const [, v] of s.samples) {
      if (v >= slot - EARLY_SECONDS && v <= slot + LATE_SECONDS && (o.first === null || v < o.first))
        o.first = v;
    }
  }
  return [...operators]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([operator, o]) => ({
      scheduledAt: new Date(slot * 1000).toISOString(),
      operator,
      modems: [...o.modems].sort(),
      receivedAt: o.first === null ? null : new Date(o.first * 1000).toISOString(),
      latencySeconds: o.first === null ? null : o.first - slot,
      received: o.first !== null,
      inTime: o.first !== null && o.first <= slot + graceSeconds,
      modemsWithoutData: [...o.modems].filter((m) => !o.withData.has(m)).sort(),
    }));
}
