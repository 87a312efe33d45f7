import { describe, expect, it } from "vitest";
import {
  duration,
  localTime,
  parseInstant,
  percent,
  seconds,
  validTimeZone,
} from "../../src/report/format.js";

// How the report reads times from the command line and writes figures: the expected instants
// are worked out from the Dutch offsets (CET = UTC+1, CEST = UTC+2; in 2026 summer time runs
// from 29 March 01:00Z to 25 October 01:00Z).

const AMS = "Europe/Amsterdam";
const at = (text: string, zone = AMS) => parseInstant(text, zone)?.toISOString();

describe("parseInstant", () => {
  it("a date alone is midnight in the given zone", () => {
    expect(at("2026-06-01")).toBe("2026-05-31T22:00:00.000Z");
    expect(at("2026-01-15")).toBe("2026-01-14T23:00:00.000Z");
    expect(at("2026-06-01", "UTC")).toBe("2026-06-01T00:00:00.000Z");
    expect(at("2026-06-01", "America/New_York")).toBe("2026-06-01T04:00:00.000Z");
  });

  it("the day summer time starts (29 March 2026): midnight is still CET, the afternoon CEST", () => {
    expect(at("2026-03-29")).toBe("2026-03-28T23:00:00.000Z");
    expect(at("2026-03-29T01:59")).toBe("2026-03-29T00:59:00.000Z");
    expect(at("2026-03-29T03:00")).toBe("2026-03-29T01:00:00.000Z");
    expect(at("2026-03-29T12:00")).toBe("2026-03-29T10:00:00.000Z");
    expect(at("2026-03-30")).toBe("2026-03-29T22:00:00.000Z");
    // 02:30 does not exist that night: read as 03:30 CEST, an hour on, as clocks moved.
    expect(at("2026-03-29T02:30")).toBe("2026-03-29T01:30:00.000Z");
    // A month's report around the change is 30 days and 23 hours long.
    const from = parseInstant("2026-03-01", AMS)!.getTime();
    const to = parseInstant("2026-04-01", AMS)!.getTime();
    expect((to - from) / 3_600_000).toBe(31 * 24 - 1);
  });

  it("the day summer time ends (25 October 2026): midnight is CEST, the afternoon CET", () => {
    expect(at("2026-10-25")).toBe("2026-10-24T22:00:00.000Z");
    expect(at("2026-10-25T01:59")).toBe("2026-10-24T23:59:00.000Z");
    expect(at("2026-10-25T03:00")).toBe("2026-10-25T02:00:00.000Z");
    expect(at("2026-10-25T12:00")).toBe("2026-10-25T11:00:00.000Z");
    expect(at("2026-10-26")).toBe("2026-10-25T23:00:00.000Z");
    const from = parseInstant("2026-10-01", AMS)!.getTime();
    const to = parseInstant("2026-11-01", AMS)!.getTime();
    expect((to - from) / 3_600_000).toBe(31 * 24 + 1);
  });

  it("a zone in the text wins over --timezone", () => {
    expect(at("2026-06-01T12:00:00+02:00", "UTC")).toBe("2026-06-01T10:00:00.000Z");
    expect(at("2026-06-01T12:00+0200", "UTC")).toBe("2026-06-01T10:00:00.000Z");
    expect(at("2026-06-01T12:00-00:30")).toBe("2026-06-01T12:30:00.000Z");
    expect(at("2026-06-01T10:00Z")).toBe("2026-06-01T10:00:00.000Z");
    expect(at("2026-06-01 10:00:05Z")).toBe("2026-06-01T10:00:05.000Z");
  });

  it("fractions of a second, as the report's own JSON writes its range, keep their value", () => {
    expect(at("2026-06-01T07:00:00.000Z")).toBe("2026-06-01T07:00:00.000Z");
    expect(at("2026-06-01T10:00:00.25Z")).toBe("2026-06-01T10:00:00.250Z");
    // Without a zone: wall-clock time in Amsterdam, fraction and all.
    expect(at("2026-06-01T12:00:00.300")).toBe("2026-06-01T10:00:00.300Z");
    expect(at("2026-06-01T12:00:00.999")).toBe("2026-06-01T10:00:00.999Z");
  });

  it('"now" is the given instant', () => {
    const now = new Date("2026-11-29T01:02:03.456Z");
    expect(parseInstant("now", AMS, now)).toBe(now);
  });

  it("anything else is not a date", () => {
    for (const text of [
      "",
      "yesterday",
      "2026-6-1",
      "2026-02-30",
      "2026-13-01",
      "2026-06-01T24:00",
      "2026-06-01T12:60",
      "2026-06-01T12:00:60",
      "2026-06-01T12:00+25:00",
      "2026-06-01T12",
      "1780300800",
    ])
      expect(parseInstant(text, AMS), text).toBeUndefined();
  });
});

describe("figures as text never show a number that is not one", () => {
  it("percent: three decimals by default, a dash for unknown", () => {
    expect(percent(0.99931)).toBe("99.931%");
    expect(percent(1)).toBe("100.000%");
    expect(percent(0)).toBe("0.000%");
    expect(percent(334 / 359, 2)).toBe("93.04%");
    expect(percent(null)).toBe("—");
    expect(percent(Number.NaN)).toBe("—");
    expect(percent(Number.POSITIVE_INFINITY)).toBe("—");
  });

  it("duration: the largest units that matter", () => {
    expect(duration(3.2)).toBe("3.2 s");
    expect(duration(0)).toBe("0.0 s");
    expect(duration(40)).toBe("40 s");
    expect(duration(60)).toBe("1 min");
    expect(duration(95)).toBe("1 min 35 s");
    expect(duration(3012)).toBe("50 min 12 s");
    expect(duration(6000)).toBe("1 h 40 min");
    expect(duration(86_400 + 3600 + 61)).toBe("1 d 1 h 1 min");
    expect(duration(null)).toBe("—");
    // Not "0 s", not "NaN s", not "Infinity d".
    expect(duration(Number.NaN)).toBe("—");
    expect(duration(Number.POSITIVE_INFINITY)).toBe("—");
  });

  it("seconds: millisecond resolution, a dash for unknown", () => {
    expect(seconds(0.41620370370370374)).toBe("0.416 s");
    expect(seconds(2.95)).toBe("2.950 s");
    expect(seconds(null)).toBe("—");
    expect(seconds(Number.NaN)).toBe("—");
  });
});

describe("localTime and validTimeZone", () => {
  it("writes an instant in the report's zone with the zone's abbreviation", () => {
    const t = Date.UTC(2026, 5, 1, 10, 0, 40) / 1000;
    expect(localTime(t, AMS)).toBe("2026-06-01 12:00:40 CEST");
    expect(localTime("2026-01-15T12:00:00.000Z", AMS)).toBe("2026-01-15 13:00:00 CET");
    expect(localTime(t, "UTC")).toBe("2026-06-01 10:00:40 UTC");
    expect(localTime(null, AMS)).toBe("—");
  });

  it("knows real zones only", () => {
    expect(validTimeZone(AMS)).toBe(true);
    expect(validTimeZone("UTC")).toBe(true);
    expect(validTimeZone("Europe/Utrecht")).toBe(false);
    expect(validTimeZone("")).toBe(false);
  });
});
