import type { CheckFigures, GroupFigures, Incident } from "./model.js";

/** Escapes text for HTML and SVG. */
export function esc(s: unknown): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

const COLOURS = { up: "#2e7d32", down: "#c62828", unknown: "#bdbdbd" } as const;
const WIDTH = 900;
const LABEL = 260;
const ROW = 18;

/** The wall-clock parts of unix time `t` in `timeZone`. */
function wallClock(t: number, timeZone: string): Record<string, string> {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(Math.floor(t) * 1000));
  return Object.fromEntries(parts.map((p) => [p.type, p.value]));
}

/** Ticks on round wall-clock times of `timeZone`, labelled in it like every other time of the report. */
function ticks(from: number, to: number, timeZone: string): Array<{ t: number; label: string }> {
  const span = to - from;
  const steps = [3600, 6 * 3600, 86_400, 7 * 86_400, 30 * 86_400];
  const step = steps.find((s) => span / s <= 10) ?? 90 * 86_400;
  const w = wallClock(from, timeZone);
  const offset =
    Date.UTC(+w.year!, +w.month! - 1, +w.day!, +w.hour!, +w.minute!, +w.second!) / 1000 - Math.floor(from);
  const out: Array<{ t: number; label: string }> = [];
  for (let local = Math.ceil((from + offset) / step) * step; local - offset <= to; local += step) {
    const t = local - offset;
    const p = wallClock(t, timeZone);
    out.push({
      t,
      label: step < 86_400 ? `${p.month}-${p.day} ${p.hour}:${p.minute}` : `${p.year}-${p.month}-${p.day}`,
    });
  }
  return out;
}

/**
 * One bar per check across the range: green while probe112_probe_success was 1, red while 0,
 * grey without data; incidents are numbered above the bars so the table below can be read with it.
 */
export function timelineChart(
  checks: readonly CheckFigures[],
  incidents: readonly Incident[],
  from: number,
  to: number,
  timeZone = "UTC",
): string {
  const plot = WIDTH - LABEL - 10;
  const x = (t: number) => LABEL + ((t - from) / (to - from)) * plot;
  const top = 24;
  const height = top + checks.length * ROW + 24;
  const parts: string[] = [];
  for (const i of incidents) {
    const x1 = x(i.start);
    const x2 = Math.max(x(i.end ?? to), x1 + 1);
    parts.push(
      `<rect x="${x1.toFixed(1)}" y="${top - 4}" width="${(x2 - x1).toFixed(1)}" height="${checks.length * ROW + 4}" fill="#c62828" fill-opacity="0.08"/>`,
      `<text x="${x1.toFixed(1)}" y="${top - 8}" font-size="10" fill="#c62828">#${i.id}</text>`,
    );
  }
  checks.forEach((c, row) => {
    const y = top + row * ROW;
    parts.push(
      `<text x="${LABEL - 6}" y="${y + 12}" font-size="10" text-anchor="end">${esc(`${c.agent} ${c.path} → ${c.destination}`)}</text>`,
    );
    for (const s of c.timeline) {
      const colour = s.value === 1 ? COLOURS.up : s.value === 0 ? COLOURS.down : COLOURS.unknown;
      const w = Math.max(x(s.end) - x(s.start), s.value === 0 ? 1 : 0);
      if (w <= 0) continue;
      parts.push(
        `<rect x="${x(s.start).toFixed(2)}" y="${y + 2}" width="${w.toFixed(2)}" height="${ROW - 6}" fill="${colour}"/>`,
      );
    }
  });
  const axisY = top + checks.length * ROW + 12;
  for (const t of ticks(from, to, timeZone)) {
    // A label at the right edge would run out of the drawing: it ends at its tick instead.
    const anchor = x(t.t) > WIDTH - 40 ? "end" : "middle";
    parts.push(
      `<line x1="${x(t.t).toFixed(1)}" y1="${top - 2}" x2="${x(t.t).toFixed(1)}" y2="${axisY - 8}" stroke="#9e9e9e" stroke-width="0.5"/>`,
      `<text x="${x(t.t).toFixed(1)}" y="${axisY + 4}" font-size="9" text-anchor="${anchor}">${esc(t.label)}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="Availability over time per check">${parts.join("")}</svg>`;
}

/** Horizontal bars of time- and attempt-based availability per provider × access × destination, 90–100 % scale. */
export function availabilityChart(groups: readonly GroupFigures[]): string {
  const plot = WIDTH - LABEL - 70;
  const floor = 0.9;
  const x = (v: number) => LABEL + Math.max(0, (v - floor) / (1 - floor)) * plot;
  const rowH = 26;
  const parts: string[] = [];
  groups.forEach((g, row) => {
    const y = 10 + row * rowH;
    parts.push(
      `<text x="${LABEL - 6}" y="${y + 14}" font-size="10" text-anchor="end">${esc(`${g.provider} ${g.access} → ${g.destination}`)}</text>`,
    );
    const bars: Array<[number | null, string, number]> = [
      [g.availabilityTime, "#1565c0", 0],
      [g.availabilityAttempts, "#90caf9", 11],
    ];
    for (const [v, colour, dy] of bars) {
      if (v === null) {
        parts.push(`<text x="${LABEL + 4}" y="${y + dy + 9}" font-size="9" fill="#757575">no data</text>`);
        continue;
      }
      parts.push(
        `<rect x="${LABEL}" y="${y + dy}" width="${(x(v) - LABEL).toFixed(1)}" height="10" fill="${colour}"/>`,
        `<text x="${(x(v) + 4).toFixed(1)}" y="${y + dy + 9}" font-size="9">${(v * 100).toFixed(3)}%</text>`,
      );
    }
  });
  const axisY = 10 + groups.length * rowH + 4;
  for (const v of [0.9, 0.92, 0.94, 0.96, 0.98, 1]) {
    parts.push(
      `<line x1="${x(v).toFixed(1)}" y1="6" x2="${x(v).toFixed(1)}" y2="${axisY}" stroke="#9e9e9e" stroke-width="0.5"/>`,
      `<text x="${x(v).toFixed(1)}" y="${axisY + 11}" font-size="9" text-anchor="middle">${(v * 100).toFixed(0)}%</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${axisY + 18}" width="100%" role="img" aria-label="Availability per provider, access and destination (dark: time-based, light: attempt-based; bars start at 90%)">${parts.join("")}</svg>`;
}
