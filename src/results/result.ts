import type { CbsFormat } from "../cellbroadcast/cbs-pdu.js";
import type { BroadcastKind } from "../cellbroadcast/channels.js";
import type { ModemHealth } from "../cellbroadcast/modem-driver.js";
import type { SerialNumber } from "../cellbroadcast/serial-number.js";
import type { MediaVerdict } from "../media/media-verdict.js";
import type { CallOutcome } from "../sip/outcome.js";
import type { TestCallResult } from "../sip/test-call.js";

/** Why a call was placed. */
export type Attempt = "scheduled" | "confirm" | "fallback" | "sweep";

/** Whether the far end proved it was the agreed far end (RFC 6881 ED-78 identity text). */
export type IdentityCheck = "ok" | "mismatch" | "absent" | "not_checked";

/** The one typed result of a SIP call probe; metrics and the journal consume nothing else. */
export interface SipCallResult {
  readonly kind: "sip_call";
  readonly id: string;
  readonly agent: string;
  readonly check: string;
  readonly provider: string;
  readonly path: string;
  readonly access: string;
  readonly transport: string;
  readonly destination: string;
  readonly role: string;
  readonly attempt: Attempt;
  readonly startedAt: string;
  readonly durationSeconds: number;
  /** Answered, completed, and every verification asked for passed. */
  readonly success: boolean;
  readonly outcome: CallOutcome;
  readonly reason: string;
  readonly verification: {
    readonly media: MediaVerdict | null;
    readonly identity: IdentityCheck;
  };
  readonly call: TestCallResult;
}

/** Counts since the previous result of the same cell-broadcast probe; metrics add them up. */
export interface CellBroadcastCounts {
  /** Pages received (repetitions included), by channel label (the MID, or "other"). */
  readonly pages: Readonly<Record<string, number>>;
  /** Pages of a message already held or already delivered: repetitions. */
  readonly duplicatePages: Readonly<Record<string, number>>;
  /** Whole messages received again and not reported again. */
  readonly duplicateMessages: Readonly<Record<string, number>>;
  /** PDUs that could not be decoded (or whose length disagreed with the URC), by reason. */
  readonly decodeErrors: Readonly<Record<string, number>>;
  /** Noise on the serial line: binary, overlong and half lines, a +CBM without its PDU, stray lines. */
  readonly lineFaults: Readonly<Record<string, number>>;
}

/** One broadcast (a copy on one channel), as a cell-broadcast probe reports it. */
export interface CellBroadcastReport {
  readonly status: "complete" | "incomplete";
  readonly kind: BroadcastKind;
  readonly format: CbsFormat;
  readonly messageIdentifier: number;
  readonly channel: string;
  readonly serialNumber: SerialNumber;
  readonly dcs: number | null;
  readonly language: string | null;
  readonly pages: number;
  readonly pagesReceived: readonly number[];
  readonly text: string;
  readonly isUpdate: boolean;
  readonly afterIncomplete: boolean;
  /** The logical alert this copy belongs to (copies on 919, 4371 and language channels are one). */
  readonly alertId: string;
  /** The first copy of the logical alert this probe saw. */
  readonly firstCopy: boolean;
  readonly alertFirstSeenAt: string;
  readonly alertChannels: readonly number[];
  readonly firstPageAt: string;
  readonly lastPageAt: string;
  /** The time an NL-Alert text starts with ("DD-MM-YYYY HH:MM", minute resolution). */
  readonly textTime: string | null;
  /** The scheduled national test this is, when it is one that arrived near its slot. */
  readonly nationalTestSlot: string | null;
  /** Seconds from a reference to the first page: the scheduled slot, the text's time. */
  readonly latency: { readonly schedule: number | null; readonly textTime: number | null };
  readonly pdus: readonly string[];
  readonly warnings: readonly string[];
}

/** The verdict on one scheduled national test: received in time, or not. */
export interface NationalTestReport {
  readonly scheduledAt: string;
  readonly deadline: string;
  readonly received: boolean;
  readonly receivedAt: string | null;
  /** A receipt after the deadline clears an earlier "missed". */
  readonly late: boolean;
}

interface CellBroadcastResultBase {
  readonly kind: "cell_broadcast";
  readonly id: string;
  readonly agent: string;
  /** "cb.<modem id>". */
  readonly check: string;
  readonly modem: string;
  readonly operator: string;
  readonly region: string;
  readonly device: string;
  readonly at: string;
  /** A broadcast received, a healthy receiver, a link up, a national test received. */
  readonly success: boolean;
  readonly counts: CellBroadcastCounts;
}

/** The typed result of a cell-broadcast probe: a broadcast, a health check, a link change or a national-test verdict. */
export type CellBroadcastResult = CellBroadcastResultBase &
  (
    | { readonly event: "broadcast"; readonly broadcast: CellBroadcastReport }
    | { readonly event: "health"; readonly health: ModemHealth }
    | { readonly event: "link"; readonly link: { readonly up: boolean; readonly reason: string } }
    | { readonly event: "national_test"; readonly nationalTest: NationalTestReport }
  );

export type ProbeResult = SipCallResult | CellBroadcastResult;
