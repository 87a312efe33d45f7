/**
 * The receive pipeline of one modem (nlalert.md §7.1): PDU → pages → assembly → de-duplication
 * → classification → logical alert. It reports every page, duplicate and decode error as an
 * event, and each broadcast once: a repetition is counted, never reported again.
 */

import { AlertCorrelator, CORRELATION_WINDOW_MS, type LogicalAlertMatch } from "./alert-correlator.js";
import type { CbmHeader } from "./at-responses.js";
import { type CbsPage, type DecodeErrorReason, decodeCbsPdu, parseHex } from "./cbs-pdu.js";
import type { BroadcastKind } from "./channels.js";
import { classifyBroadcast } from "./classify.js";
import { decodeDcs } from "./dcs.js";
import { DEDUP_TTL_MS, MessageDedup, type ReceiverLocation, scopeOf } from "./message-dedup.js";
import { alertTextTime } from "./national-test.js";
import { type AssembledMessage, PageAssembler } from "./page-assembler.js";
import { pageFromTextMode } from "./text-mode.js";

/** Default time a message may take to arrive whole (nlalert.md §7.1: at least 5 min). */
export const ASSEMBLY_TIMEOUT_MS = 5 * 60 * 1000;

/** When a URC arrived: wall clock (ms since the epoch) and monotonic clock (performance.now()). */
export interface Arrival {
  readonly at: number;
  readonly mono: number;
}

/** A broadcast as reported: assembled, classified and placed in its logical alert. */
export interface Broadcast extends AssembledMessage {
  readonly kind: BroadcastKind;
  /** A newer update number of a message delivered before. */
  readonly isUpdate: boolean;
  /** Delivered incomplete before, now complete. */
  readonly afterIncomplete: boolean;
  readonly alert: LogicalAlertMatch;
  /** The "DD-MM-YYYY HH:MM" an NL-Alert text starts with, when it does. */
  readonly textTime: Date | undefined;
}

export type ReceiverEvent =
  | { readonly type: "page"; readonly mid: number; readonly duplicate: boolean }
  | {
      readonly type: "decode_error";
      readonly reason: DecodeErrorReason;
      readonly message: string;
      /** True when the PDU was still decoded (a length that disagrees with the URC's). */
      readonly recovered: boolean;
      readonly pdu: string;
    }
  | { readonly type: "broadcast"; readonly broadcast: Broadcast }
  | { readonly type: "duplicate"; readonly mid: number };

export interface BroadcastReceiverOptions {
  readonly onEvent: (e: ReceiverEvent) => void;
  /** Where the modem is camped, for the geographical scope of de-duplication. */
  readonly location?: () => ReceiverLocation;
  readonly assemblyTimeoutMs?: number;
  readonly dedupTtlMs?: number;
  readonly correlationWindowMs?: number;
}

const NOWHERE: ReceiverLocation = { plmn: "", area: "", cell: "" };

export class BroadcastReceiver {
  private readonly assembler: PageAssembler;
  private readonly dedup: MessageDedup;
  private readonly correlator: AlertCorrelator;

  constructor(private readonly o: BroadcastReceiverOptions) {
    this.assembler = new PageAssembler(o.assemblyTimeoutMs ?? ASSEMBLY_TIMEOUT_MS, (m) => this.assembled(m));
    this.dedup = new MessageDedup(o.dedupTtlMs ?? DEDUP_TTL_MS);
    this.correlator = new AlertCorrelator(o.correlationWindowMs ?? CORRELATION_WINDOW_MS);
  }

  /** A PDU-mode broadcast: the hex line, when it arrived, and the length the +CBM line declared. */
  pdu(hex: string, arrival: Arrival, declaredLength?: number): void {
    const bytes = parseHex(hex);
    if (!bytes) {
      this.o.onEvent({
        type: "decode_error",
        reason: "hex",
        message: `not hex of whole octets (${hex.length} characters)`,
        recovered: false,
        pdu: hex.slice(0, 400),
      });
      return;
    }
    if (declaredLength !== undefined && declaredLength !== bytes.length) {
      // Log and carry on (nlalert.md §7.1): the octets themselves say how long the page is.
      this.o.onEvent({
        type: "decode_error",
        reason: "length",
        message: `+CBM declared ${declaredLength} octets, the PDU has ${bytes.length}`,
        recovered: true,
        pdu: hex,
      });
    }
    const r = decodeCbsPdu(bytes);
    if (!r.ok) {
      this.o.onEvent({
        type: "decode_error",
        reason: r.reason,
        message: r.message,
        recovered: false,
        pdu: hex,
      });
      return;
    }
    for (const page of r.pages) this.page(page, arrival, hex.toUpperCase());
  }

  /** A text-mode broadcast: the +CBM header fields and the data line. */
  text(header: Extract<CbmHeader, { mode: "text" }>, data: string, arrival: Arrival): void {
    const page = pageFromTextMode(header, data);
    const evidence = `+CBM: ${header.serialNumber},${header.messageIdentifier},${header.dcs},${header.page},${header.pages} ${data}`;
    if (!page) {
      this.o.onEvent({
        type: "decode_error",
        reason: decodeDcs(header.dcs).unsupported ? "dcs" : "format",
        message: "text-mode +CBM that cannot be read",
        recovered: false,
        pdu: evidence.slice(0, 400),
      });
      return;
    }
    this.page(page, arrival, evidence);
  }

  /** One decoded page. */
  page(page: CbsPage, arrival: Arrival, pdu: string): void {
    const receivedAt = arrival.at;
    const location = this.o.location?.() ?? NOWHERE;
    const scope = scopeOf(page.serialNumber.geographicalScope, location);
    const verdict = this.dedup.verdict(scope, page.messageIdentifier, page.serialNumber, receivedAt);
    if (verdict === "duplicate") {
      this.o.onEvent({ type: "page", mid: page.messageIdentifier, duplicate: true });
      return;
    }
    const added = this.assembler.add(scope, { page, receivedAt, receivedMono: arrival.mono, pdu });
    // The page first, then the message it completed: counts arrive in the order things happened.
    this.o.onEvent({ type: "page", mid: page.messageIdentifier, duplicate: added.status === "duplicate" });
    if (added.completed) this.assembled(added.completed);
  }

  /** Drops pages still waiting; nothing more is reported. */
  stop(): void {
    this.assembler.clear();
  }

  private assembled(m: AssembledMessage): void {
    // The assembly key starts with the scope the pages arrived in: de-duplicate there.
    const scope = m.key.slice(0, m.key.indexOf("|"));
    const verdict = this.dedup.verdict(scope, m.messageIdentifier, m.serialNumber, m.lastPageAt);
    if (verdict === "duplicate" || (verdict === "retry" && !m.complete)) {
      // The same message again, or the same pages missing again: counted, not reported twice.
      this.o.onEvent({ type: "duplicate", mid: m.messageIdentifier });
      return;
    }
    this.dedup.record(scope, m.messageIdentifier, m.serialNumber, m.complete, m.lastPageAt);
    const alert = this.correlator.match({
      messageIdentifier: m.messageIdentifier,
      messageCode: m.serialNumber.messageCode,
      text: m.complete ? m.text : "",
      at: m.firstPageAt,
    });
    this.o.onEvent({
      type: "broadcast",
      broadcast: {
        ...m,
        kind: classifyBroadcast(m.messageIdentifier, m.text, m.etws?.warningType),
        isUpdate: verdict === "update",
        afterIncomplete: verdict === "retry",
        alert,
        textTime: alertTextTime(m.text),
      },
    });
  }
}
