import { describe, expect, it } from "vitest";
import { type CbsPage, decodeCbsHex, decodeCbsPdu, parseHex } from "../../src/cellbroadcast/cbs-pdu.js";
import { decodeDcs } from "../../src/cellbroadcast/dcs.js";
import { decodeGsm7, packSeptets, septetsToText, textToSeptets } from "../../src/cellbroadcast/gsm7.js";
import {
  ANDROID_7BIT,
  ANDROID_7BIT_LANGUAGE_IN_BODY,
  ANDROID_UCS2,
  ANDROID_UCS2_LANGUAGE_IN_BODY,
  ANDROID_UMTS_MULTIPAGE,
  CANADA_ALERT_READY,
  GERMANY_2022,
  LIBOSMOCORE_MAHLZEIT,
  NL_2023,
  NL_2023_TEXTS,
  UCS2_OVERSIZE,
  UCS2_PAD,
} from "./vectors.js";

function pages(hex: string): CbsPage[] {
  const r = decodeCbsHex(hex);
  if (!r.ok) throw new Error(`${r.reason}: ${r.message}`);
  return r.pages;
}

function one(hex: string): CbsPage {
  const p = pages(hex);
  expect(p).toHaveLength(1);
  return p[0]!;
}

describe("CBS codec against real PDUs (nlalert.md §2.4)", () => {
  it("A: the NL-Alert national test of 4 December 2023, three pages, the last one 65 octets", () => {
    expect(parseHex(NL_2023[2])!.length).toBe(65);
    NL_2023.forEach((hex, i) => {
      const p = one(hex);
      expect(p.format).toBe("gsm");
      expect(p.serialNumber).toEqual({
        raw: 0x46a0,
        geographicalScope: 1,
        messageCode: 106,
        updateNumber: 0,
        emergencyUserAlert: false,
        popup: false,
      });
      expect(p.messageIdentifier).toBe(4371);
      expect(p.dcs).toBe(0x05);
      expect(p.coding).toMatchObject({ alphabet: "gsm7", language: "nl", languageIndicator: false });
      expect(p.language).toBe("nl");
      expect([p.page, p.pages]).toEqual([i + 1, 3]);
      expect(p.text).toBe(NL_2023_TEXTS[i]);
      expect(p.warnings).toEqual([]);
    });
  });

  it("B: libosmocore's encoder test: Mahlzeit! on 4380, cell-immediate scope, CR padding removed", () => {
    const p = one(LIBOSMOCORE_MAHLZEIT);
    expect(p.serialNumber).toMatchObject({
      raw: 0x0010,
      geographicalScope: 0,
      messageCode: 1,
      updateNumber: 0,
    });
    expect(p.messageIdentifier).toBe(4380);
    expect(p.dcs).toBe(0x00);
    expect(p.language).toBe("de");
    expect([p.page, p.pages]).toEqual([1, 1]);
    expect(p.text).toBe("Mahlzeit!");
    // 82 octets hold 93 septets: the text and 84 CRs.
    expect(decodeGsm7(parseHex(LIBOSMOCORE_MAHLZEIT)!, 6, 93)).toBe(`Mahlzeit!${"\r".repeat(84)}`);
  });

  it("C: Android's GSM 7-bit page with carriage-return padding", () => {
    const p = one(ANDROID_7BIT);
    expect(p.serialNumber).toMatchObject({ raw: 0xc000, geographicalScope: 3 });
    expect(p.messageIdentifier).toBe(50);
    expect(p.dcs).toBe(0x40);
    expect(p.coding).toMatchObject({ alphabet: "gsm7", language: null, messageClass: null });
    expect([p.page, p.pages]).toEqual([1, 1]);
    expect(p.text).toBe("A GSM default alphabet message with carriage return padding");
  });

  it("D: Android's UMTS CB-Data format with two pages of 10 octets", () => {
    const p = pages(ANDROID_UMTS_MULTIPAGE);
    expect(p.map((x) => [x.format, x.messageIdentifier, x.serialNumber.raw, x.dcs, x.page, x.pages])).toEqual(
      [
        ["umts", 1, 0xc000, 0x40, 1, 2],
        ["umts", 1, 0xc000, 0x40, 2, 2],
      ],
    );
    expect(p.map((x) => x.content.length / 2)).toEqual([10, 10]);
    expect(p.map((x) => x.text).join("")).toBe("First page+Second page");
  });

  it("E: Canada Alert Ready, 4370, page 1 of 6, emergency-user-alert flag in the message code", () => {
    const p = one(CANADA_ALERT_READY);
    expect(p.serialNumber).toEqual({
      raw: 0x6760,
      geographicalScope: 1,
      messageCode: 0x276,
      updateNumber: 0,
      emergencyUserAlert: true,
      popup: false,
    });
    // ModemManager masks the two flag bits and reports 0x76.
    expect(p.serialNumber.messageCode & 0xff).toBe(0x76);
    expect(p.messageIdentifier).toBe(4370);
    expect(p.dcs).toBe(0x0f);
    expect(p.language).toBeNull();
    expect([p.page, p.pages]).toEqual([1, 6]);
    expect(p.text).toBe(
      "This is a test of the Ontario Alert Ready System. There is no danger to your health or safety",
    );
  });

  it("E: Germany's warning day 2022, 4383, English, page 1 of 3", () => {
    const p = one(GERMANY_2022);
    expect(p.serialNumber).toMatchObject({
      raw: 0x40c0,
      geographicalScope: 1,
      messageCode: 12,
      updateNumber: 0,
    });
    expect(p.messageIdentifier).toBe(4383);
    expect(p.dcs).toBe(0x01);
    expect(p.language).toBe("en");
    expect([p.page, p.pages]).toEqual([1, 3]);
    expect(p.text).toBe(
      "TEST ALERT, NATIONWIDE ALERT DAY 2022 Thu 2022/12/08 - 10:59 am - Test alert - for Deutschlan",
    );
  });

  it("E: UCS2 page 15/15 of 87 octets: odd length and the stray 00 handled, CR padding removed", () => {
    expect(parseHex(UCS2_PAD)!.length).toBe(87);
    const p = one(UCS2_PAD);
    expect(p.serialNumber).toMatchObject({
      raw: 0x5540,
      geographicalScope: 1,
      messageCode: 0x154,
      popup: true,
    });
    expect(p.messageIdentifier).toBe(4370);
    expect(p.dcs).toBe(0x59);
    expect(p.coding).toMatchObject({ alphabet: "ucs2", messageClass: 1 });
    expect([p.page, p.pages]).toEqual([15, 15]);
    expect(p.text).toBe("альнейших указаний.");
    expect(p.warnings).toEqual(["UCS2 content of odd length 81: last octet ignored"]);
  });

  it("a 92-octet UCS2 page (not the UMTS format) is read as a GSM page of 88 octets, with a warning", () => {
    const p = one(UCS2_OVERSIZE);
    expect(p.messageIdentifier).toBe(50);
    expect([p.page, p.pages]).toEqual([1, 4]);
    expect(p.text).toBe(" Протягом дня є висока імовірність ракетн");
    expect(p.warnings[0]).toMatch(/92 octets, more than a GSM page/);
  });

  it("language indicators: DCS 0x10 (GSM 7-bit) and 0x11 (UCS2)", () => {
    const g = one(ANDROID_7BIT_LANGUAGE_IN_BODY);
    expect(g.coding).toMatchObject({ alphabet: "gsm7", languageIndicator: true });
    expect(g.language).toBe("sv");
    expect(g.text).toBe("A GSM default alphabet message with carriage return padding");
    const u = one(ANDROID_UCS2_LANGUAGE_IN_BODY);
    expect(u.coding).toMatchObject({ alphabet: "ucs2", languageIndicator: true });
    expect(u.language).toBe("xx");
    expect(u.text).toBe("A UCS2 message containing a \u0434 character");
  });

  it("UCS2 with DCS 0x48", () => {
    expect(one(ANDROID_UCS2).text).toBe("A UCS2 message containing a \u0434 character");
  });
});

describe("GSM 7-bit alphabet", () => {
  it("the extension table via 0x1B: € [ ] { } \\ ~ ^ | and form feed", () => {
    const text = "€[]{}\\~^|\f";
    const septets = textToSeptets(text);
    expect(septets.filter((s) => s === 0x1b)).toHaveLength(10);
    expect(septetsToText(septets)).toBe(text);
    expect(decodeGsm7(packSeptets(septets), 0, septets.length)).toBe(text);
  });

  it("an escape before a code the extension table lacks shows the default character; a double escape a space", () => {
    expect(septetsToText([0x1b, 0x41])).toBe("A");
    expect(septetsToText([0x1b, 0x1b, 0x42])).toBe(" B");
    expect(septetsToText([0x41, 0x1b])).toBe("A");
  });

  it("the default table round-trips, accents and Greek included", () => {
    const text = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà";
    expect(septetsToText(textToSeptets(text))).toBe(text);
  });
});

describe("bad PDUs", () => {
  it("hex that is not hex, or of odd length", () => {
    expect(decodeCbsHex("46A01G")).toMatchObject({ ok: false, reason: "hex" });
    expect(decodeCbsHex("46A01")).toMatchObject({ ok: false, reason: "hex" });
  });

  it("shorter than a header", () => {
    expect(decodeCbsPdu(new Uint8Array([0x46, 0xa0, 0x11]))).toMatchObject({ ok: false, reason: "length" });
  });

  it("a DCS the codec cannot decode keeps the header for the report", () => {
    const hex = `46A01113${"94"}13${"41".repeat(20)}`;
    const r = decodeCbsHex(hex);
    expect(r).toMatchObject({ ok: false, reason: "dcs", messageIdentifier: 4371 });
    expect(!r.ok && r.message).toMatch(/DCS 0x94: message with a user data header/);
  });

  it("UMTS format whose pages do not fit", () => {
    expect(decodeCbsHex(`01111346A00503${"00".repeat(90)}`)).toMatchObject({ ok: false, reason: "length" });
    expect(decodeCbsHex(`01111346A00500${"00".repeat(90)}`)).toMatchObject({ ok: false, reason: "format" });
  });

  it("page 0/0 is page 1/1; other invalid parameters too, with a warning", () => {
    const zero = one(`46A0111305${"00"}${"41".repeat(10)}`);
    expect([zero.page, zero.pages, zero.warnings]).toEqual([1, 1, []]);
    const bad = one(`46A0111305${"42"}${"41".repeat(10)}`);
    expect([bad.page, bad.pages]).toEqual([1, 1]);
    expect(bad.warnings[0]).toMatch(/page parameter 0x42 is invalid/);
  });

  it("ETWS primary notification: warning type, flags and security information", () => {
    const p = one(`0000110007${"80"}${"AB".repeat(50)}`);
    expect(p.format).toBe("etws_primary");
    expect(p.messageIdentifier).toBe(0x1100);
    expect(p.etws).toMatchObject({
      warningType: 3,
      warningTypeName: "test",
      emergencyUserAlert: true,
      popup: true,
    });
    expect(p.etws!.securityInfo).toHaveLength(100);
  });
});

describe("DCS", () => {
  it.each([
    [0x05, { alphabet: "gsm7", language: "nl" }],
    [0x0f, { alphabet: "gsm7", language: null }],
    [0x23, { alphabet: "gsm7", language: "ru" }],
    [0x48, { alphabet: "ucs2" }],
    [0x59, { alphabet: "ucs2", messageClass: 1 }],
    [0xf4, { alphabet: "8bit", messageClass: 0 }],
    [0x12, { alphabet: "gsm7" }],
    [0xa0, { alphabet: "gsm7" }],
  ])("DCS %i", (dcs, expected) => {
    const c = decodeDcs(dcs);
    expect(c).toMatchObject(expected);
    expect(c.unsupported).toBeUndefined();
  });

  it("compressed, UDH and WAP codings are unsupported", () => {
    expect(decodeDcs(0x60).unsupported).toMatch(/compressed/);
    expect(decodeDcs(0x94).unsupported).toMatch(/user data header/);
    expect(decodeDcs(0xe0).unsupported).toMatch(/WAP/);
  });
});
