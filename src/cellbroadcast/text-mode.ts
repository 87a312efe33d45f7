/**
 * Broadcasts from a modem that refused PDU mode: "+CBM: <sn>,<mid>,<dcs>,<page>,<pages>" and a
 * data line, GSM 7-bit text converted to the modem's character set, 8-bit and UCS2 as hex
 * (TS 27.005 §3.4.1). Byte-exact padding and the raw PDU are lost; the header fields are not.
 */

import type { CbmHeader } from "./at-responses.js";
import { type CbsPage, parseHex, stripTrailingPadding } from "./cbs-pdu.js";
import { decodeDcs } from "./dcs.js";
import { decodeSerialNumber } from "./serial-number.js";

/** Builds a page from a text-mode +CBM; undefined when the header or data cannot be read. */
export function pageFromTextMode(h: Extract<CbmHeader, { mode: "text" }>, data: string): CbsPage | undefined {
  if (h.serialNumber > 0xffff || h.messageIdentifier > 0xffff || h.dcs > 0xff) return undefined;
  const coding = decodeDcs(h.dcs);
  if (coding.unsupported) return undefined;
  let text = data;
  if (coding.alphabet === "ucs2") {
    const bytes = parseHex(data);
    if (!bytes) return undefined;
    const even = bytes.subarray(0, bytes.length & ~1);
    text = Buffer.from(even).swap16().toString("utf16le");
  } else if (coding.alphabet === "8bit") {
    text = "";
  }
  let page = h.page;
  let pages = h.pages;
  if (page < 1 || pages < 1 || page > pages || pages > 15) {
    page = 1;
    pages = 1;
  }
  return {
    format: "gsm",
    messageIdentifier: h.messageIdentifier,
    serialNumber: decodeSerialNumber(h.serialNumber),
    dcs: h.dcs,
    coding,
    page,
    pages,
    language: coding.language,
    text: stripTrailingPadding(text),
    content: Buffer.from(data, "latin1").toString("hex").toUpperCase(),
    warnings: ["text mode: the modem converted the page; padding and raw octets are not available"],
  };
}
