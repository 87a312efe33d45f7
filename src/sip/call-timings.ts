import type { TraceEntry } from "./trace.js";

/** RFC 6076 timings of one call, in seconds; null where the call never reached that point. */
export interface CallTimings {
  /** First INVITE sent → first response of any kind (100 Trying included). */
  readonly firstResponse: number | null;
  /**
   * RFC 6076 §4.3 Session Request Delay: first INVITE sent → first non-100 provisional, or the
   * final response when none came. Digest challenges we answered are not status-indicative and
   * are skipped (RFC 6076 §5.2).
   */
  readonly srd: number | null;
  /** First INVITE sent → 2xx. */
  readonly answer: number | null;
  /** RFC 6076 §4.4 Session Disconnect Delay: our first BYE sent → final response of its last retry. */
  readonly sdd: number | null;
  /** RFC 6076 §4.5 Session Duration: 2xx → BYE (ours sent or theirs received). */
  readonly duration: number | null;
}

export interface RetransmissionCounts {
  /** Copies we resent, by method or by "status method" for responses. */
  readonly sent: Readonly<Record<string, number>>;
  /** Copies the peer resent to us. */
  readonly received: number;
}

const seconds = (ms: number): number => Math.round(ms * 1000) / 1_000_000;

function usable(e: TraceEntry, callId: string): boolean {
  return e.callId === callId && e.dropped === undefined && !e.retransmission;
}

/** Monotonic time of the first INVITE we sent for the call, in ms. */
export function firstInviteAt(trace: readonly TraceEntry[], callId: string): number | undefined {
  return trace.find((e) => e.direction === "sent" && e.method === "INVITE" && usable(e, callId))?.at;
}

/** Computes the RFC 6076 timings of one call from its socket-level trace. */
export function computeTimings(trace: readonly TraceEntry[], callId: string): CallTimings {
  const t0 = firstInviteAt(trace, callId);
  const none: CallTimings = { firstResponse: null, srd: null, answer: null, sdd: null, duration: null };
  if (t0 === undefined) return none;
  const mine = trace.filter((e) => usable(e, callId));
  const inviteResponses = mine.filter(
    (e) => e.direction === "received" && e.status !== undefined && e.cseqMethod === "INVITE",
  );
  const invitesSent = mine.filter((e) => e.direction === "sent" && e.method === "INVITE");
  const lastInviteCseq = Math.max(...invitesSent.map((e) => e.cseq ?? 0));
  // A challenge is skipped when we answered it with a new INVITE (a higher CSeq).
  const challengeAnswered = (e: TraceEntry) =>
    (e.status === 401 || e.status === 407) && (e.cseq ?? 0) < lastInviteCseq;
  const first = inviteResponses[0];
  const srdEntry = inviteResponses.find((e) => (e.status ?? 0) > 100 && !challengeAnswered(e));
  const answer = inviteResponses.find((e) => (e.status ?? 0) >= 200 && (e.status ?? 0) < 300);

  const byesSent = mine.filter((e) => e.direction === "sent" && e.method === "BYE");
  const byeReceived = mine.find((e) => e.direction === "received" && e.method === "BYE");
  let sdd: number | null = null;
  const firstBye = byesSent[0];
  if (firstBye) {
    const lastByeCseq = Math.max(...byesSent.map((e) => e.cseq ?? 0));
    const byeFinal = mine.find(
      (e) =>
        e.direction === "received" &&
        e.cseqMethod === "BYE" &&
        e.cseq === lastByeCseq &&
        (e.status ?? 0) >= 200,
    );
    if (byeFinal) sdd = seconds(byeFinal.at - firstBye.at);
  }
  const end = firstBye && (!byeReceived || firstBye.at <= byeReceived.at) ? firstBye : byeReceived;
  return {
    firstResponse: first ? seconds(first.at - t0) : null,
    srd: srdEntry ? seconds(srdEntry.at - t0) : null,
    answer: answer ? seconds(answer.at - t0) : null,
    sdd,
    duration: answer && end && end.at >= answer.at ? seconds(end.at - answer.at) : null,
  };
}

/** Counts retransmitted copies in a call's trace. */
export function countRetransmissions(trace: readonly TraceEntry[], callId: string): RetransmissionCounts {
  const sent: Record<string, number> = {};
  let received = 0;
  for (const e of trace) {
    if (e.callId !== callId || !e.retransmission || e.dropped !== undefined) continue;
    if (e.direction === "received") {
      received++;
      continue;
    }
    const key = e.method ?? `${e.status} ${e.cseqMethod ?? ""}`.trim();
    sent[key] = (sent[key] ?? 0) + 1;
  }
  return { sent, received };
}

/** The final response to the last INVITE transaction that came over the wire. */
export function inviteFinalResponse(
  trace: readonly TraceEntry[],
  callId: string,
): { status: number; reason: string; at: number } | undefined {
  const mine = trace.filter((e) => usable(e, callId));
  const invites = mine.filter((e) => e.direction === "sent" && e.method === "INVITE");
  if (invites.length === 0) return undefined;
  const lastCseq = Math.max(...invites.map((e) => e.cseq ?? 0));
  const final = mine.find(
    (e) =>
      e.direction === "received" &&
      e.cseqMethod === "INVITE" &&
      e.cseq === lastCseq &&
      (e.status ?? 0) >= 200,
  );
  if (!final || final.status === undefined) return undefined;
  return { status: final.status, reason: final.summary.replace(/^\d{3}\s*/, ""), at: final.at };
}
