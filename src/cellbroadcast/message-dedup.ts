/**
 * De-duplication of cell broadcasts with TS 23.041 §9.4.1.2.1 semantics, as Android applies them:
 * the same channel and serial number is the same message within its geographical scope (the
 * cell for GS 0/3, the location/tracking area for GS 2, the PLMN for GS 1) for 24 hours; a newer
 * update number with the same scope and message code is new content.
 */

import { isNewerUpdate, type SerialNumber } from "./serial-number.js";

export const DEDUP_TTL_MS = 24 * 3600 * 1000;

/** Where the receiver is, as far as scopes go; empty strings when unknown. */
export interface ReceiverLocation {
  readonly plmn: string;
  /** LAC or TAC. */
  readonly area: string;
  readonly cell: string;
}

/** The part of the location a message's scope covers. */
export function scopeOf(gs: number, at: ReceiverLocation): string {
  if (gs === 1) return `plmn:${at.plmn}`;
  if (gs === 2) return `area:${at.plmn}/${at.area}`;
  return `cell:${at.plmn}/${at.area}/${at.cell}`;
}

export type DedupVerdict =
  /** Never seen (or not within 24 h). */
  | "new"
  /** A newer update number of a message seen. */
  | "update"
  /** Seen, but so far only incomplete: worth assembling again. */
  | "retry"
  /** Already delivered complete, or an older update number than the one delivered. */
  | "duplicate";

interface Seen {
  updateNumber: number;
  complete: boolean;
  at: number;
}

export class MessageDedup {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly ttlMs = DEDUP_TTL_MS) {}

  /** What a message with this identity is, given what was delivered before. */
  verdict(scope: string, mid: number, sn: SerialNumber, now: number): DedupVerdict {
    const s = this.lookup(scope, mid, sn, now);
    if (!s) return "new";
    if (sn.updateNumber === s.updateNumber) return s.complete ? "duplicate" : "retry";
    return isNewerUpdate(sn.updateNumber, s.updateNumber) ? "update" : "duplicate";
  }

  /** Records a message delivered (complete or incomplete). */
  record(scope: string, mid: number, sn: SerialNumber, complete: boolean, now: number): void {
    const key = identity(scope, mid, sn);
    const s = this.seen.get(key);
    // Incomplete never downgrades a complete delivery of the same update.
    if (s && s.updateNumber === sn.updateNumber && s.complete && !complete) return;
    this.seen.set(key, { updateNumber: sn.updateNumber, complete, at: now });
    if (this.seen.size > 10_000) this.prune(now);
  }

  /** Forgets entries older than the TTL. */
  prune(now: number): void {
    for (const [k, s] of this.seen) if (now - s.at > this.ttlMs) this.seen.delete(k);
  }

  private lookup(scope: string, mid: number, sn: SerialNumber, now: number): Seen | undefined {
    const key = identity(scope, mid, sn);
    const s = this.seen.get(key);
    if (s && now - s.at > this.ttlMs) {
      this.seen.delete(key);
      return undefined;
    }
    return s;
  }
}

function identity(scope: string, mid: number, sn: SerialNumber): string {
  // The update number is deliberately not part of the identity: it is what tells updates apart.
  return `${scope}|${mid}|${sn.geographicalScope}|${sn.messageCode}`;
}
