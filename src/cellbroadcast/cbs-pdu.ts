/**
 * Decoding of cell-broadcast PDUs as modems hand them over (3GPP TS 23.041 §9.4): GSM pages of up
 * to 88 octets (LTE-sourced pages arrive shorter: 6 + information length), the UMTS "CB-Data"
 * format with several pages in one PDU, and ETWS primary notifications.
 */

import { type DataCoding, decodeDcs } from "./dcs.js";
import { decodeGsm7, GSM7_CR, septetCapacity } from "./gsm7.js";
import { decodeSerialNumber, type SerialNumber } from "./serial-number.js";

export type CbsFormat = "gsm" | "umts" | "etws_primary";

/** Why a PDU could not be decoded; a bounded set, used as a metric label. */
export type DecodeErrorReason = "hex" | "length" | "format" | "dcs";

export const DECODE_ERROR_REASONS: readonly DecodeErrorReason[] = ["hex", "length", "format", "dcs"];

/** GSM page: 6 header octets + 82 content octets. */
export const GSM_PAGE_OCTETS = 88;
export const PAGE_CONTENT_OCTETS = 82;
const HEADER_OCTETS = 6;
const ETWS_PRIMARY_MAX_OCTETS = 56;
const UMTS_MESSAGE_TYPE_CBS = 0x01;

const ETWS_WARNING_TYPES = ["earthquake", "tsunami", "earthquake_and_tsunami", "test", "other"];

export interface EtwsPrimary {
  readonly warningType: number;
  readonly warningTypeName: string;
  readonly emergencyUserAlert: boolean;
  readonly popup: boolean;
  /** Warning-Security-Information as hex, when the PDU carries it. */
  readonly securityInfo: string | null;
}

/** One decoded page. */
export interface CbsPage {
  readonly format: CbsFormat;
  readonly messageIdentifier: number;
  readonly serialNumber: SerialNumber;
  /** The DCS octet; null for ETWS primary notifications, which carry no text. */
  readonly dcs: number | null;
  readonly coding: DataCoding | null;
  readonly page: number;
  readonly pages: number;
  readonly language: string | null;
  /** The page's text, trailing CR padding (and UCS2 NULs) removed. */
  readonly text: string;
  /** The page's content octets as upper-case hex, for evidence. */
  readonly content: string;
  readonly etws?: EtwsPrimary;
  /** Oddities that did not stop decoding (e.g. an odd UCS2 length). */
  readonly warnings: readonly string[];
}

export type CbsDecodeResult =
  | { readonly ok: true; readonly pages: CbsPage[] }
  | {
      readonly ok: false;
      readonly reason: DecodeErrorReason;
      readonly message: string;
      /** The header, when it could be read. */
      readonly messageIdentifier?: number;
      readonly serialNumber?: SerialNumber;
    };

/** Parses hex (upper or lower case, no separators); undefined when it is not hex of whole octets. */
export function parseHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** Octets as upper-case hex. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex").toUpperCase();
}

/** Decodes a PDU given as hex. */
export function decodeCbsHex(hex: string): CbsDecodeResult {
  const bytes = parseHex(hex.trim());
  if (!bytes) {
    return {
      ok: false,
      reason: "hex",
      message: `not hex of whole octets (${hex.length} characters)`,
    };
  }
  return decodeCbsPdu(bytes);
}

/** Decodes one PDU into its pages (one page, or several for the UMTS format). */
export function decodeCbsPdu(pdu: Uint8Array): CbsDecodeResult {
  if (pdu.length < HEADER_OCTETS) {
    return {
      ok: false,
      reason: "length",
      message: `${pdu.length} octets: shorter than the 6-octet header`,
    };
  }
  if (pdu.length > GSM_PAGE_OCTETS && pdu[0] === UMTS_MESSAGE_TYPE_CBS) return decodeUmts(pdu);
  const serialNumber = decodeSerialNumber((pdu[0]! << 8) | pdu[1]!);
  const messageIdentifier = (pdu[2]! << 8) | pdu[3]!;
  if ((messageIdentifier & 0xfff8) === 0x1100 && pdu.length <= ETWS_PRIMARY_MAX_OCTETS) {
    return { ok: true, pages: [etwsPrimary(pdu, serialNumber, messageIdentifier)] };
  }
  const warnings: string[] = [];
  let page = pdu;
  if (pdu.length > GSM_PAGE_OCTETS) {
    // Not the UMTS format (octet 1 is not 01): a GSM page with octets the modem appended.
    warnings.push(
      `${pdu.length} octets, more than a GSM page: the ${pdu.length - GSM_PAGE_OCTETS} beyond octet 88 ignored`,
    );
    page = pdu.subarray(0, GSM_PAGE_OCTETS);
  }
  const param = pdu[5]!;
  let index = param >> 4;
  let total = param & 0x0f;
  if (index === 0 || total === 0 || index > total) {
    // TS 23.041 §9.4.1.2.4 allows 0000/0000 for a single page; anything else invalid is read the same way.
    if (param !== 0) warnings.push(`page parameter 0x${hex2(param)} is invalid: read as 1/1`);
    index = 1;
    total = 1;
  }
  const dcs = pdu[4]!;
  const coding = decodeDcs(dcs);
  const content = page.subarray(HEADER_OCTETS);
  if (coding.unsupported) {
    return {
      ok: false,
      reason: "dcs",
      message: `DCS 0x${hex2(dcs)}: ${coding.unsupported}`,
      messageIdentifier,
      serialNumber,
    };
  }
  const body = decodeBody(content, coding, warnings);
  return {
    ok: true,
    pages: [
      {
        format: "gsm",
        messageIdentifier,
        serialNumber,
        dcs,
        coding,
        page: index,
        pages: total,
        language: body.language,
        text: body.text,
        content: toHex(content),
        warnings,
      },
    ],
  };
}

function decodeUmts(pdu: Uint8Array): CbsDecodeResult {
  // Message type (1), message identifier (2), serial number (2), DCS (1), number of pages (1),
  // then per page 82 content octets and 1 octet "information length" (TS 25.324 §11.1).
  const messageIdentifier = (pdu[1]! << 8) | pdu[2]!;
  const serialNumber = decodeSerialNumber((pdu[3]! << 8) | pdu[4]!);
  const dcs = pdu[5]!;
  const header = { messageIdentifier, serialNumber };
  const count = pdu[6]!;
  if (count < 1 || count > 15) {
    return {
      ok: false,
      reason: "format",
      message: `UMTS format with ${count} pages (1–15 allowed)`,
      ...header,
    };
  }
  const needed = 7 + count * (PAGE_CONTENT_OCTETS + 1);
  if (pdu.length < needed) {
    return {
      ok: false,
      reason: "length",
      message: `UMTS format with ${count} pages needs ${needed} octets, got ${pdu.length}`,
      ...header,
    };
  }
  const coding = decodeDcs(dcs);
  if (coding.unsupported) {
    return { ok: false, reason: "dcs", message: `DCS 0x${hex2(dcs)}: ${coding.unsupported}`, ...header };
  }
  const pages: CbsPage[] = [];
  for (let i = 0; i < count; i++) {
    const at = 7 + i * (PAGE_CONTENT_OCTETS + 1);
    const length = pdu[at + PAGE_CONTENT_OCTETS]!;
    if (length > PAGE_CONTENT_OCTETS) {
      return {
        ok: false,
        reason: "format",
        message: `UMTS page ${i + 1}: information length ${length} exceeds 82`,
        ...header,
      };
    }
    const warnings: string[] = [];
    const content = pdu.subarray(at, at + length);
    const body = decodeBody(content, coding, warnings);
    pages.push({
      format: "umts",
      messageIdentifier,
      serialNumber,
      dcs,
      coding,
      page: i + 1,
      pages: count,
      language: body.language,
      text: body.text,
      content: toHex(content),
      warnings,
    });
  }
  return { ok: true, pages };
}

function etwsPrimary(pdu: Uint8Array, serialNumber: SerialNumber, messageIdentifier: number): CbsPage {
  // Warning type: 7 bits, then the emergency-user-alert bit; the popup bit leads the next octet.
  const warningType = pdu[4]! >> 1;
  const etws: EtwsPrimary = {
    warningType,
    warningTypeName: ETWS_WARNING_TYPES[warningType] ?? "other",
    emergencyUserAlert: (pdu[4]! & 0x01) !== 0,
    popup: (pdu[5]! & 0x80) !== 0,
    securityInfo: pdu.length > HEADER_OCTETS ? toHex(pdu.subarray(HEADER_OCTETS)) : null,
  };
  return {
    format: "etws_primary",
    messageIdentifier,
    serialNumber,
    dcs: null,
    coding: null,
    page: 1,
    pages: 1,
    language: null,
    text: "",
    content: toHex(pdu.subarray(4)),
    etws,
    warnings: [],
  };
}

function decodeBody(
  content: Uint8Array,
  coding: DataCoding,
  warnings: string[],
): { text: string; language: string | null } {
  let language = coding.language;
  let text: string;
  if (coding.alphabet === "gsm7") {
    text = decodeGsm7(content, 0, septetCapacity(content.length));
    if (coding.languageIndicator && text.length > 2) {
      // Two GSM characters and a CR lead the text (TS 23.038 §5, DCS 0001 0000).
      language = text.slice(0, 2).toLowerCase();
      text = text.slice(3);
    }
  } else if (coding.alphabet === "ucs2") {
    let body = content;
    if (coding.languageIndicator && body.length >= 2) {
      // Two GSM 7-bit characters packed in the first two octets (DCS 0001 0001).
      language = decodeGsm7(body, 0, 2).toLowerCase();
      body = body.subarray(2);
    }
    if (body.length % 2 !== 0) {
      warnings.push(`UCS2 content of odd length ${body.length}: last octet ignored`);
      body = body.subarray(0, body.length - 1);
    }
    text = Buffer.from(body).swap16().toString("utf16le");
  } else {
    text = "";
  }
  return { text: stripTrailingPadding(text), language };
}

/** Removes trailing CR padding (and the NULs some modems append to UCS2 pages). */
export function stripTrailingPadding(text: string): string {
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === GSM7_CR || text.charCodeAt(end - 1) === 0)) end--;
  return text.slice(0, end);
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, "0");
}
