import { describe, expect, it } from "vitest";
import { ecbeBody } from "../../src/cellbroadcast/cbc-client.js";
import { encodeCbsPages } from "../../src/cellbroadcast/cbs-encode.js";
import { decodeCbsHex, parseHex } from "../../src/cellbroadcast/cbs-pdu.js";
import { encodeSerialNumber } from "../../src/cellbroadcast/serial-number.js";
import { pageFromTextMode } from "../../src/cellbroadcast/text-mode.js";
import { NL_2023, NL_2023_TEXTS } from "./vectors.js";

function decodeAll(pdus: string[]): string {
  return pdus
    .map((p) => {
      const r = decodeCbsHex(p);
      if (!r.ok) throw new Error(r.message);
      return r.pages[0]!.text;
    })
    .join("");
}

describe("encoding pages", () => {
  it("reproduces the NL 2023 test byte for byte, the LTE-style short last page included", () => {
    const pdus = encodeCbsPages({
      messageIdentifier: 4371,
      serialNumber: 0x46a0,
      dcs: 0x05,
      text: NL_2023_TEXTS.join(""),
      shortLastPage: true,
    });
    expect(pdus).toEqual([...NL_2023]);
  });

  it("never splits an escape from its character, and round-trips the extension table", () => {
    const text = `${"a".repeat(92)}€ and [brackets] ~ over two pages`;
    const pdus = encodeCbsPages({ messageIdentifier: 4398, serialNumber: encodeSerialNumber(1, 5, 0), text });
    expect(pdus).toHaveLength(2);
    expect(decodeAll(pdus)).toBe(text);
    expect(pdus.every((p) => parseHex(p)!.length === 88)).toBe(true);
  });

  it("a short last page whose spare bits would read as @ gets a CR instead", () => {
    for (let n = 1; n <= 16; n++) {
      const text = "x".repeat(n);
      const [pdu] = encodeCbsPages({ messageIdentifier: 4398, serialNumber: 1, text, shortLastPage: true });
      expect(decodeAll([pdu!])).toBe(text);
    }
  });

  it("UCS2: 41 characters a page", () => {
    const text =
      "Увага! Повітряна тривога. Перейдіть до укриття. Attention: air raid alert, go to a shelter now.";
    const pdus = encodeCbsPages({ messageIdentifier: 4370, serialNumber: 1, dcs: 0x48, text });
    expect(pdus).toHaveLength(Math.ceil(text.length / 41));
    expect(decodeAll(pdus)).toBe(text);
  });
});

describe("text-mode +CBM", () => {
  it("GSM text as given; UCS2 from hex; invalid page numbers read as 1/1", () => {
    const p = pageFromTextMode(
      { mode: "text", serialNumber: 18080, messageIdentifier: 4371, dcs: 5, page: 1, pages: 3 },
      NL_2023_TEXTS[0],
    )!;
    expect(p).toMatchObject({
      messageIdentifier: 4371,
      page: 1,
      pages: 3,
      language: "nl",
      text: NL_2023_TEXTS[0],
    });
    expect(p.serialNumber).toMatchObject({ geographicalScope: 1, messageCode: 106 });
    const u = pageFromTextMode(
      { mode: "text", serialNumber: 1, messageIdentifier: 50, dcs: 0x48, page: 0, pages: 0 },
      "0041000D",
    )!;
    expect([u.text, u.page, u.pages]).toEqual(["A", 1, 1]);
    expect(
      pageFromTextMode(
        { mode: "text", serialNumber: 1, messageIdentifier: 50, dcs: 0x48, page: 1, pages: 1 },
        "zz",
      ),
    ).toBeUndefined();
  });
});

describe("the ECBE body", () => {
  it("carries the fields osmo-cbc's rest_api.c reads", () => {
    expect(
      ecbeBody({
        cbeName: "probe112-lab",
        messageId: 4398,
        messageCode: 106,
        text: "hallo",
        language: "nl",
        repetitionPeriod: 5,
        numberOfBroadcasts: 0,
      }),
    ).toEqual({
      cbe_name: "probe112-lab",
      category: "normal",
      repetition_period: 5,
      num_of_bcast: 0,
      scope: { scope_plmn: {} },
      smscb_message: {
        message_id: 4398,
        serial_nr: { serial_nr_decoded: { geo_scope: "plmn_wide", msg_code: 106, update_nr: 0 } },
        payload: { payload_decoded: { character_set: "gsm", language: "nl", data_utf8: "hallo" } },
      },
    });
  });
});
