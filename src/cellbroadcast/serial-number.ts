/**
 * The CBS serial number (3GPP TS 23.041 §9.4.1.2.1): geographical scope, message code, update
 * number. For ETWS/CMAS the top two bits of the message code are also the emergency-user-alert
 * and popup flags; the message code reported here is the full 10 bits either way.
 */

export type GeographicalScope = "cell_immediate" | "plmn" | "area" | "cell";

export const GEOGRAPHICAL_SCOPES: readonly GeographicalScope[] = ["cell_immediate", "plmn", "area", "cell"];

export interface SerialNumber {
  readonly raw: number;
  /** 0 cell-wide (immediate), 1 PLMN-wide, 2 location/service/tracking-area-wide, 3 cell-wide. */
  readonly geographicalScope: number;
  readonly messageCode: number;
  readonly updateNumber: number;
  readonly emergencyUserAlert: boolean;
  readonly popup: boolean;
}

/** Splits a 16-bit serial number into its fields. */
export function decodeSerialNumber(raw: number): SerialNumber {
  const sn = raw & 0xffff;
  return {
    raw: sn,
    geographicalScope: sn >> 14,
    messageCode: (sn >> 4) & 0x3ff,
    updateNumber: sn & 0x0f,
    emergencyUserAlert: (sn & 0x2000) !== 0,
    popup: (sn & 0x1000) !== 0,
  };
}

/** Builds a serial number the way osmo-cbc does: (gs & 3) << 14 | (code & 0x3ff) << 4 | (update & 0xf). */
export function encodeSerialNumber(gs: number, messageCode: number, updateNumber: number): number {
  return ((gs & 3) << 14) | ((messageCode & 0x3ff) << 4) | (updateNumber & 0xf);
}

/** The scope's name, e.g. "plmn". */
export function scopeName(gs: number): GeographicalScope {
  return GEOGRAPHICAL_SCOPES[gs & 3]!;
}

/**
 * Whether update number `next` is newer content than `seen`: update numbers count modulo 16
 * (TS 23.041 §9.4.1.2.1), so up to 7 steps ahead is newer and anything else is a stale copy.
 */
export function isNewerUpdate(next: number, seen: number): boolean {
  const step = (next - seen + 16) % 16;
  return step >= 1 && step <= 7;
}
