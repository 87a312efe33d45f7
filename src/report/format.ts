/** A ratio as a percentage with enough digits for availability (99.931 %); a dash when unknown. */
export function percent(x: number | null, digits = 3): string {
  return x === null || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(digits)}%`;
}

/** Seconds as "1 h 40 min", "50 min 12 s", "3.2 s". */
export function duration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return "—";
  if (s < 10) return `${s.toFixed(1)} s`;
  const r = Math.round(s);
  const d = Math.floor(r / 86_400);
  const h = Math.floor((r % 86_400) / 3600);
  const m = Math.floor((r % 3600) / 60);
  const sec = r % 60;
  const parts = [d && `${d} d`, h && `${h} h`, m && `${m} min`, !d && !h && sec && `${sec} s`];
  return parts.filter(Boolean).join(" ") || "0 s";
}

/** Seconds with millisecond resolution, for SRD. */
export function seconds(s: number | null): string {
  return s === null || !Number.isFinite(s) ? "—" : `${s.toFixed(3)} s`;
}

/** An instant in the report's time zone: "2026-06-01 12:00:40 CEST". */
export function localTime(t: number | string | null, timeZone: string): string {
  if (t === null) return "—";
  const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
  const parts = new Intl.DateTimeFormat("sv-SE", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZoneName: "short",
    hourCycle: "h23",
  }).formatToParts(d);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}:${get("second")} ${get("timeZoneName")}`;
}

/** True when `tz` is a time zone this runtime knows. */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The offset of `timeZone` from UTC at instant `ms`, in milliseconds. */
function zoneOffset(ms: number, timeZone: string): number {
  // The parts below have whole seconds: compare them with the instant cut to whole seconds.
  const whole = Math.floor(ms / 1000) * 1000;
  const p = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(new Date(whole));
  const n = (type: string) => Number(p.find((x) => x.type === type)?.value);
  return Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second")) - whole;
}

/**
 * An instant from the command line: ISO 8601 with a zone (absolute), or a date or date-time
 * without one, read as wall-clock time in `timeZone` ("2026-06-01" is midnight there); "now".
 * Undefined when the text is none of these.
 */
export function parseInstant(text: string, timeZone: string, now = new Date()): Date | undefined {
  if (text === "now") return now;
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/.exec(
      text,
    );
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? "0", m[5] ?? "0", m[6] ?? "0"].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Math.floor(Number(`0.${m[7] ?? "0"}`) * 1000);
  const wall = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const check = new Date(wall);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59)
    return undefined;
  if (m[8]) return check;
  if (m[9]) {
    const offsetMinutes = Number(m[10]) * 60 + Number(m[11]);
    if (Number(m[10]) > 23 || Number(m[11]) > 59) return undefined;
    return new Date(wall - (m[9] === "-" ? -1 : 1) * offsetMinutes * 60_000);
  }
  // Two passes settle the offset across a DST change.
  let t = wall - zoneOffset(wall, timeZone);
  t = wall - zoneOffset(t, timeZone);
  return new Date(t);
}
