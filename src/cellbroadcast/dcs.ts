/**
 * The CBS Data Coding Scheme (3GPP TS 23.038 §5): alphabet, language and message class of a
 * cell broadcast. Reserved codings are read as the GSM 7-bit default alphabet, as §5 tells a
 * receiver to; only compressed text, a user data header and WAP codings cannot be decoded.
 */

export type CbsAlphabet = "gsm7" | "8bit" | "ucs2";

export interface DataCoding {
  readonly dcs: number;
  readonly alphabet: CbsAlphabet;
  /** ISO 639-1 code when the DCS names the language; else null (see languageIndicator). */
  readonly language: string | null;
  /** The text starts with its language: 2 GSM characters + CR (GSM-7) or 2 packed octets (UCS2). */
  readonly languageIndicator: boolean;
  readonly messageClass: number | null;
  /** Why the content cannot be decoded; undefined when it can. */
  readonly unsupported?: string;
}

const GROUP_0 = ["de", "en", "it", "fr", "es", "nl", "sv", "da", "pt", "fi", "no", "el", "tr", "hu", "pl"];
const GROUP_2 = ["cs", "he", "ar", "ru", "is"];
const ALPHABETS: readonly CbsAlphabet[] = ["gsm7", "8bit", "ucs2", "gsm7"];

/** Decodes one DCS octet. */
export function decodeDcs(dcs: number): DataCoding {
  const d = dcs & 0xff;
  const group = d >> 4;
  const low = d & 0x0f;
  const base = { dcs: d, languageIndicator: false, messageClass: null };
  switch (group) {
    case 0x0:
      return { ...base, alphabet: "gsm7", language: GROUP_0[low] ?? null };
    case 0x1:
      if (low === 0) return { ...base, alphabet: "gsm7", language: null, languageIndicator: true };
      if (low === 1) return { ...base, alphabet: "ucs2", language: null, languageIndicator: true };
      return { ...base, alphabet: "gsm7", language: null };
    case 0x2:
      return { ...base, alphabet: "gsm7", language: GROUP_2[low] ?? null };
    case 0x3:
      return { ...base, alphabet: "gsm7", language: null };
    case 0x4:
    case 0x5:
    case 0x6:
    case 0x7: {
      const coding: DataCoding = {
        ...base,
        alphabet: ALPHABETS[(d >> 2) & 3]!,
        language: null,
        messageClass: d & 0x10 ? d & 3 : null,
      };
      return d & 0x20 ? { ...coding, unsupported: "compressed text (TS 23.042)" } : coding;
    }
    case 0x9:
      return {
        ...base,
        alphabet: ALPHABETS[(d >> 2) & 3]!,
        language: null,
        messageClass: d & 3,
        unsupported: "message with a user data header",
      };
    case 0xe:
      return { ...base, alphabet: "8bit", language: null, unsupported: "coding defined by the WAP Forum" };
    case 0xf:
      return { ...base, alphabet: d & 0x04 ? "8bit" : "gsm7", language: null, messageClass: d & 3 };
    default:
      return { ...base, alphabet: "gsm7", language: null };
  }
}

/** A short human description, e.g. "GSM 7-bit, nl" or "UCS2, class 1". */
export function describeDcs(c: DataCoding): string {
  const alphabet = { gsm7: "GSM 7-bit", "8bit": "8-bit data", ucs2: "UCS2" }[c.alphabet];
  const parts = [alphabet];
  if (c.language) parts.push(c.language);
  if (c.languageIndicator) parts.push("language in text");
  if (c.messageClass !== null) parts.push(`class ${c.messageClass}`);
  if (c.unsupported) parts.push(`unsupported: ${c.unsupported}`);
  return parts.join(", ");
}
