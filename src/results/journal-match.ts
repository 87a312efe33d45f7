import { readFileSync } from "node:fs";
import { findJournalFiles } from "./journal.js";

/** One line of a journal, parsed; lines that do not parse are counted, not thrown. */
export type JournalRecord = Record<string, unknown> & { readonly type?: string; readonly time?: string };

/** Reads every record of the journal files at `path` (a file or a directory). */
export function readJournalRecords(path: string): { records: JournalRecord[]; unreadable: number } {
  const files = findJournalFiles(path);
  const records: JournalRecord[] = [];
  let unreadable = 0;
  for (const f of files) {
    for (const line of readFileSync(f, "utf8").split("\n")) {
      if (!line) continue;
      try {
        records.push(JSON.parse(line) as JournalRecord);
      } catch {
        unreadable++;
      }
    }
  }
  return { records, unreadable };
}

export interface AgentCall {
  readonly token: string;
  readonly check: string;
  readonly agent: string;
  readonly path: string;
  readonly destination: string;
  readonly startedAt: string;
  readonly callId: string | null;
}

export interface ResponderReceipt {
  readonly token: string | null;
  readonly agent: string;
  readonly path: string;
  readonly receivedAt: string;
  readonly callId: string;
  readonly source: string;
}

export interface MatchReport {
  /** Agent calls answered by a far end that named itself as ours (identity verified). */
  readonly expectedAtResponder: number;
  /** Those the responder confirmed, by probe token. */
  readonly confirmed: number;
  /** Answered, identity ok, but the responder has no record: something else answered in its name. */
  readonly answeredWithoutReceipt: readonly AgentCall[];
  /** The responder answered a test the agents did not record (within the agents' time range). */
  readonly receiptsWithoutAgent: readonly ResponderReceipt[];
  /** The caller ID the responder received differed from what the agent declared for the path. */
  readonly callerIdMismatches: ReadonlyArray<
    ResponderReceipt & { received: string | null; declared: string | null }
  >;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/**
 * Joins agent and responder journals by probe token (the Call-ID is useless here: an SBC between
 * them starts a new call leg). The responder's token is the one from the SIP header, or the one
 * it received in-band when an SBC stripped the header.
 */
export function matchJournals(
  agent: readonly JournalRecord[],
  responder: readonly JournalRecord[],
): MatchReport {
  const calls = agent
    .filter((r) => r.type === "result" && r.kind === "sip_call")
    .map((r) => {
      const call = (r.call ?? {}) as Record<string, unknown>;
      return {
        token: str(call.token),
        check: str(r.check),
        agent: str(r.agent),
        path: str(r.path),
        destination: str(r.destination),
        startedAt: str(r.startedAt),
        callId: typeof call.callId === "string" ? call.callId : null,
        answered: r.outcome === "answered",
        identityOk: (r.verification as Record<string, unknown> | undefined)?.identity === "ok",
      };
    });
  const receipts = responder
    .filter((r) => r.type === "test_call" && r.outcome !== "cancelled")
    .map((r) => ({
      token: typeof r.token === "string" ? r.token : null,
      agent: str(r.agent),
      path: str(r.path),
      receivedAt: str(r.receivedAt),
      callId: str(r.callId),
      source: str(r.source),
      callerId: (r.callerId ?? {}) as Record<string, unknown>,
    }));
  const byToken = new Map(receipts.filter((r) => r.token).map((r) => [r.token!, r]));
  const agentTokens = new Set(calls.map((c) => c.token).filter(Boolean));
  const expected = calls.filter((c) => c.answered && c.identityOk);
  const confirmed = expected.filter((c) => byToken.has(c.token));
  // Receipts count as unmatched only inside the time the agent journals cover (a call's receipt
  // comes a little after it started: a minute's margin).
  const times = calls.map((c) => Date.parse(c.startedAt)).filter((t) => !Number.isNaN(t));
  const from = Math.min(...times) - 60_000;
  const to = Math.max(...times) + 60_000;
  const toCall = ({ answered: _a, identityOk: _i, ...c }: (typeof calls)[number]): AgentCall => c;
  const toReceipt = ({ callerId: _c, ...r }: (typeof receipts)[number]): ResponderReceipt => r;
  return {
    expectedAtResponder: expected.length,
    confirmed: confirmed.length,
    answeredWithoutReceipt: expected.filter((c) => !byToken.has(c.token)).map(toCall),
    receiptsWithoutAgent: receipts
      .filter((r) => {
        const at = Date.parse(r.receivedAt);
        return (!r.token || !agentTokens.has(r.token)) && at >= from && at <= to;
      })
      .map(toReceipt),
    callerIdMismatches: receipts
      .filter((r) => r.callerId.check === "mismatch")
      .map((r) => ({
        ...toReceipt(r),
        received: typeof r.callerId.received === "string" ? r.callerId.received : null,
        declared: typeof r.callerId.declared === "string" ? r.callerId.declared : null,
      })),
  };
}
