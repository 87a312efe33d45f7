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

export type ProbeResult = SipCallResult;
