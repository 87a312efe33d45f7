/**
 * Encoding text into CBS pages (3GPP TS 23.041 §9.4.1.2): what a CBC does. probe112 never sends
 * broadcasts itself; this exists to build lab and test traffic with the same layout the network
 * uses, including the short last page that LTE-sourced broadcasts arrive with.
 */

import { PAGE_CONTENT_OCTETS, toHex } from "./cbs-pdu.js";
import { GSM7_CR, GSM7_ESCAPE, packSeptets, textToSeptets } from "./gsm7.js";

export interface EncodeOptions {
  readonly messageIdentifier: number;
  readonly serialNumber: number;
  /** The DCS octet; GSM 7-bit unless it names UCS2 (0x11, 0x48, 01xx10xx). Default 0x0F. */
  readonly dcs?: number;
  readonly text: string;
  /** End the last page after its text (6 + information length octets) as LTE-sourced pages do. */
  readonly shortLastPage?: boolean;
}

const SEPTETS_PER_PAGE = 93;
const UCS2_CHARS_PER_PAGE = 41;

function isUcs2(dcs: number): boolean {
  return dcs === 0x11 || ((dcs & 0xc0) === 0x40 && ((dcs >> 2) & 3) === 2);
}

/** Encodes `text` into GSM-format pages (hex), at most 15. */
export function encodeCbsPages(o: EncodeOptions): string[] {
  const dcs = o.dcs ?? 0x0f;
  const chunks = isUcs2(dcs) ? ucs2Chunks(o.text, !!o.shortLastPage) : gsm7Chunks(o.text, !!o.shortLastPage);
  if (chunks.length > 15)
    throw new RangeError(`text needs ${chunks.length} pages; a CBS message has at most 15`);
  return chunks.map((content, i) => {
    const header = Uint8Array.from([
      (o.serialNumber >> 8) & 0xff,
      o.serialNumber & 0xff,
      (o.messageIdentifier >> 8) & 0xff,
      o.messageIdentifier & 0xff,
      dcs,
      ((i + 1) << 4) | chunks.length,
    ]);
    return toHex(header) + toHex(content);
  });
}

function gsm7Chunks(text: string, shortLast: boolean): Uint8Array[] {
  const septets = textToSeptets(text);
  const pages: number[][] = [];
  let at = 0;
  do {
    let end = Math.min(at + SEPTETS_PER_PAGE, septets.length);
    // Never split an escape from the character it introduces.
    if (end < septets.length && septets[end - 1] === GSM7_ESCAPE) end--;
    pages.push(septets.slice(at, end));
    at = end;
  } while (at < septets.length);
  return pages.map((p, i) => {
    const padded = [...p];
    while (padded.length < SEPTETS_PER_PAGE) padded.push(GSM7_CR);
    const page = packSeptets(padded).subarray(0, PAGE_CONTENT_OCTETS);
    // The LTE-sourced last page is the CR-padded page cut after its text's octets, as captured
    // (NL 2023 page 3: 67 characters, 59 octets, the spare bits those of a CR). Seven spare
    // bits then hold a whole CR, never an "@" (TS 23.038 §6.1.2.3.1).
    if (i === pages.length - 1 && shortLast) return page.subarray(0, Math.ceil((p.length * 7) / 8));
    return page;
  });
}

function ucs2Chunks(text: string, shortLast: boolean): Uint8Array[] {
  const units: number[] = [];
  for (let i = 0; i < text.length; i++) units.push(text.charCodeAt(i));
  const pages: Uint8Array[] = [];
  for (let at = 0; at < units.length || pages.length === 0; at += UCS2_CHARS_PER_PAGE) {
    const slice = units.slice(at, at + UCS2_CHARS_PER_PAGE);
    const last = at + UCS2_CHARS_PER_PAGE >= units.length;
    const size = last && shortLast ? slice.length * 2 : PAGE_CONTENT_OCTETS;
    const out = new Uint8Array(size);
    for (let k = 0; k < UCS2_CHARS_PER_PAGE && k * 2 + 1 < size; k++) {
      const u = slice[k] ?? GSM7_CR;
      out[k * 2] = u >> 8;
      out[k * 2 + 1] = u & 0xff;
    }
    pages.push(out);
  }
  return pages;
}
