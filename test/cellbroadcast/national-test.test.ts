import { describe, expect, it } from "vitest";
import { classifyBroadcast } from "../../src/cellbroadcast/classify.js";
import {
  alertTextTime,
  amsterdamTime,
  easterSunday,
  isNationalTestText,
  nationalTestsAround,
  scheduledNationalTest,
  withinNationalTestWindow,
} from "../../src/cellbroadcast/national-test.js";
import { NL_2023_TEXTS } from "./vectors.js";

const NL_TEST_2023 = NL_2023_TEXTS.join("");
const CONTROLE_2020 =
  "NL-Alert 08-06-2020 12:00: CONTROLEBERICHT. U hoeft niets te doen. Meer informatie op www.nl-alert.nl ### TEST MESSAGE Netherlands Government Public Warning System. No action required. More information: www.nl-alert.nl/english";

describe("the national test schedule", () => {
  it.each([
    [2020, 6, "2020-06-08T10:00:00.000Z"], // 1 June was Whit Monday
    [2021, 6, "2021-06-07T10:00:00.000Z"],
    [2022, 6, "2022-06-13T10:00:00.000Z"], // 6 June was Whit Monday
    [2023, 6, "2023-06-05T10:00:00.000Z"],
    [2023, 12, "2023-12-04T11:00:00.000Z"], // the test captured in nlalert.md §2.4
    [2024, 12, "2024-12-02T11:00:00.000Z"],
    [2025, 6, "2025-06-02T10:00:00.000Z"],
    [2025, 12, "2025-12-01T11:00:00.000Z"],
  ] as const)("%i-%i: first Monday, 12:00 Europe/Amsterdam", (year, month, iso) => {
    expect(scheduledNationalTest(year, month).toISOString()).toBe(iso);
  });

  it("Easter, for Whit Monday", () => {
    expect(easterSunday(2020).toISOString().slice(0, 10)).toBe("2020-04-12");
    expect(easterSunday(2022).toISOString().slice(0, 10)).toBe("2022-04-17");
    expect(easterSunday(2024).toISOString().slice(0, 10)).toBe("2024-03-31");
  });

  it("Amsterdam time across daylight saving", () => {
    expect(amsterdamTime(2024, 3, 31, 1, 30).toISOString()).toBe("2024-03-31T00:30:00.000Z");
    expect(amsterdamTime(2024, 3, 31, 3, 30).toISOString()).toBe("2024-03-31T01:30:00.000Z");
    expect(amsterdamTime(2024, 10, 27, 12, 0).toISOString()).toBe("2024-10-27T11:00:00.000Z");
  });

  it("the tests around a moment, and the window", () => {
    const { previous, next } = nationalTestsAround(new Date("2024-01-15T00:00:00Z"));
    expect(previous.toISOString()).toBe("2023-12-04T11:00:00.000Z");
    expect(next.toISOString()).toBe("2024-06-03T10:00:00.000Z");
    expect(
      withinNationalTestWindow(new Date("2023-12-04T11:02:00Z"), 1800_000, 3600_000)?.toISOString(),
    ).toBe("2023-12-04T11:00:00.000Z");
    expect(withinNationalTestWindow(new Date("2023-12-05T11:02:00Z"), 1800_000, 3600_000)).toBeUndefined();
  });
});

describe("recognising the national test", () => {
  it("TESTBERICHT, CONTROLEBERICHT and TEST MESSAGE after the NL-Alert header", () => {
    expect(isNationalTestText(NL_TEST_2023)).toBe(true);
    expect(isNationalTestText(CONTROLE_2020)).toBe(true);
    expect(isNationalTestText("NL-Alert 04-12-2023 12:00: TEST MESSAGE Netherlands Government")).toBe(true);
    expect(isNationalTestText("NL-Alert 07-11-2023 13:37 Grote brand met veel rook aan de Kanaalkade")).toBe(
      false,
    );
    expect(isNationalTestText("TESTBERICHT zonder kop")).toBe(false);
  });

  it("the time a text starts with, colon or not", () => {
    expect(alertTextTime(NL_TEST_2023)?.toISOString()).toBe("2023-12-04T11:00:00.000Z");
    expect(alertTextTime("NL-Alert 07-11-2023 13:37 Grote brand")?.toISOString()).toBe(
      "2023-11-07T12:37:00.000Z",
    );
    expect(alertTextTime("NL-Alert 03-07-2017 12:00 test")?.toISOString()).toBe("2017-07-03T10:00:00.000Z");
    expect(alertTextTime("NL-Alert 33-13-2017 12:00 bad")).toBeUndefined();
    expect(alertTextTime("Geen kop")).toBeUndefined();
  });

  it.each([
    [4371, NL_TEST_2023, "nl_test"],
    [919, NL_TEST_2023, "nl_test"],
    [4371, "NL-Alert 07-11-2023 13:37 Grote brand", "alert"],
    [4384, "NL-Alert: large fire", "alert"],
    [4380, "Mahlzeit!", "test"],
    [4398, NL_TEST_2023, "test"], // the channel decides first
    [4381, "exercise", "exercise"],
    [4395, "operator", "operator"],
    [4355, "", "etws_test"],
    [4352, "", "etws"],
    [4400, "", "geofence"],
    [6400, "info", "info"],
    [50, "Протягом дня", "other"],
  ] as const)("MID %i: %s → %s", (mid, text, kind) => {
    expect(classifyBroadcast(mid, text)).toBe(kind);
  });

  it("ETWS warning type 3 is a test whatever the MID", () => {
    expect(classifyBroadcast(4352, "", 3)).toBe("etws_test");
  });
});
