/**
 * The twice-yearly NL-Alert national test ("testbericht", until 2020 "controlebericht"): the
 * first Monday of June and of December at 12:00 Europe/Amsterdam, on the live channel 4371. A
 * June Monday that is Whit Monday moves the test a week on (8 June 2020, 13 June 2022).
 */

const ZONE = "Europe/Amsterdam";

/** NL-Alert texts start "NL-Alert DD-MM-YYYY HH:MM" (a colon after the time since about 2020). */
const HEADER = /^\s*NL-Alert (\d{2})-(\d{2})-(\d{4}) (\d{2}):(\d{2}):?\s/;
const TEST_WORDS = /\b(TESTBERICHT|CONTROLEBERICHT|TEST MESSAGE)\b/;

const offsetFormat = new Intl.DateTimeFormat("en-US", { timeZone: ZONE, timeZoneName: "longOffset" });

/** Minutes Amsterdam is ahead of UTC at `instant`. */
function amsterdamOffsetMinutes(instant: Date): number {
  const name = offsetFormat.formatToParts(instant).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  if (!m) return 0;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** The instant of a wall-clock time in Amsterdam (month 1–12). */
export function amsterdamTime(year: number, month: number, day: number, hour: number, minute: number): Date {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  // The offset at the guess is right except within an hour of a DST change, where a second pass settles it.
  let t = asUtc - amsterdamOffsetMinutes(new Date(asUtc)) * 60_000;
  t = asUtc - amsterdamOffsetMinutes(new Date(t)) * 60_000;
  return new Date(t);
}

/** Easter Sunday (Gregorian; the anonymous algorithm), as a UTC date. */
export function easterSunday(year: number): Date {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return new Date(Date.UTC(year, month - 1, day));
}

/** The scheduled national test of a June or December: 12:00 Amsterdam time. */
export function scheduledNationalTest(year: number, month: 6 | 12): Date {
  const firstDay = new Date(Date.UTC(year, month - 1, 1)).getUTCDay();
  let day = 1 + ((8 - firstDay) % 7);
  if (month === 6) {
    const whitMonday = new Date(easterSunday(year).getTime() + 50 * 86_400_000);
    if (whitMonday.getUTCMonth() === 5 && whitMonday.getUTCDate() === day) day += 7;
  }
  return amsterdamTime(year, month, day, 12, 0);
}

/** The scheduled national tests just before (or at) and just after `now`. */
export function nationalTestsAround(now: Date): { previous: Date; next: Date } {
  const y = now.getUTCFullYear();
  const all = [y - 1, y, y + 1].flatMap((year) => [
    scheduledNationalTest(year, 6),
    scheduledNationalTest(year, 12),
  ]);
  const previous = all.filter((t) => t.getTime() <= now.getTime()).at(-1)!;
  const next = all.find((t) => t.getTime() > now.getTime())!;
  return { previous, next };
}

/** The date and time an NL-Alert text starts with, as an instant; undefined without that header. */
export function alertTextTime(text: string): Date | undefined {
  const m = HEADER.exec(text);
  if (!m) return undefined;
  const [day, month, year, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return undefined;
  return amsterdamTime(year, month, day, hour, minute);
}

/** Whether a text is the NL-Alert national test: the NL-Alert header and TESTBERICHT/CONTROLEBERICHT/TEST MESSAGE. */
export function isNationalTestText(text: string): boolean {
  return HEADER.test(text) && TEST_WORDS.test(text);
}

/** Whether `at` falls in a scheduled test's window: from `before` ms ahead of it to `after` ms past it. */
export function withinNationalTestWindow(at: Date, before: number, after: number): Date | undefined {
  const { previous, next } = nationalTestsAround(at);
  for (const t of [previous, next]) {
    if (at.getTime() >= t.getTime() - before && at.getTime() <= t.getTime() + after) return t;
  }
  return undefined;
}
