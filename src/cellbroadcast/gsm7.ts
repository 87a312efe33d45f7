/**
 * The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1, §6.2.1.1), and
 * septet packing (§6.1.2.1.1). Cell broadcasts use no national shift tables, so these two tables
 * are all a receiver needs.
 */

/** The escape to the extension table. */
export const GSM7_ESCAPE = 0x1b;

/** The padding character of CBS pages (TS 23.041 §9.4.1.2.4: CR after the last character). */
export const GSM7_CR = 0x0d;

// Index = septet value. 0x1B is the escape and never printed by itself.
const DEFAULT_TABLE =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

const EXTENSION_TABLE: ReadonlyMap<number, string> = new Map([
  [0x0a, "\f"],
  [0x14, "^"],
  [0x28, "{"],
  [0x29, "}"],
  [0x2f, "\\"],
  [0x3c, "["],
  [0x3d, "~"],
  [0x3e, "]"],
  [0x40, "|"],
  [0x65, "€"],
]);

const ENCODE_DEFAULT = new Map<string, number>();
for (let i = 0; i < DEFAULT_TABLE.length; i++)
  if (i !== GSM7_ESCAPE) ENCODE_DEFAULT.set(DEFAULT_TABLE[i]!, i);
const ENCODE_EXTENSION = new Map<string, number>();
for (const [code, ch] of EXTENSION_TABLE) ENCODE_EXTENSION.set(ch, code);

/** How many septets fit in `octets` packed octets. */
export function septetCapacity(octets: number): number {
  return Math.floor((octets * 8) / 7);
}

/** Unpacks `count` septets from packed octets starting at `offset` (LSB first). */
export function unpackSeptets(bytes: Uint8Array, offset: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const bit = i * 7;
    const at = offset + (bit >> 3);
    const shift = bit & 7;
    if (at >= bytes.length) break;
    let v = bytes[at]! >> shift;
    if (shift > 1 && at + 1 < bytes.length) v |= bytes[at + 1]! << (8 - shift);
    out.push(v & 0x7f);
  }
  return out;
}

/** Packs septets into octets (LSB first); the unused high bits of the last octet are 0. */
export function packSeptets(septets: readonly number[]): Uint8Array {
  const out = new Uint8Array(Math.ceil((septets.length * 7) / 8));
  septets.forEach((s, i) => {
    const bit = i * 7;
    const at = bit >> 3;
    const shift = bit & 7;
    out[at]! |= (s << shift) & 0xff;
    if (shift > 1) out[at + 1]! |= s >> (8 - shift);
  });
  return out;
}

/**
 * Turns septets into text. An escape followed by a code the extension table lacks shows the
 * default-table character (TS 23.038 §6.2.1.1); a double escape, reserved, shows a space.
 */
export function septetsToText(septets: readonly number[]): string {
  let out = "";
  for (let i = 0; i < septets.length; i++) {
    const s = septets[i]!;
    if (s !== GSM7_ESCAPE) {
      out += DEFAULT_TABLE[s];
      continue;
    }
    const next = septets[i + 1];
    if (next === undefined) break;
    i++;
    out += next === GSM7_ESCAPE ? " " : (EXTENSION_TABLE.get(next) ?? DEFAULT_TABLE[next]);
  }
  return out;
}

/** Decodes `count` packed septets to text. */
export function decodeGsm7(bytes: Uint8Array, offset: number, count: number): string {
  return septetsToText(unpackSeptets(bytes, offset, count));
}

/** Text to septets; characters outside both tables become "?" (as a CBC would send them). */
export function textToSeptets(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const d = ENCODE_DEFAULT.get(ch);
    if (d !== undefined) out.push(d);
    else {
      const e = ENCODE_EXTENSION.get(ch);
      if (e !== undefined) out.push(GSM7_ESCAPE, e);
      else out.push(ENCODE_DEFAULT.get("?")!);
    }
  }
  return out;
}

/** Whether every character of `text` is in the default alphabet or its extension table. */
export function isGsm7Text(text: string): boolean {
  for (const ch of text) if (!ENCODE_DEFAULT.has(ch) && !ENCODE_EXTENSION.has(ch)) return false;
  return true;
}
