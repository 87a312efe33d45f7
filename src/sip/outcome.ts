/**
 * The one outcome every test call ends in (a bounded label set). `probe_error` is the agent's own
 * fault and never counts against a provider.
 */
export const CALL_OUTCOMES = [
  "answered",
  "busy",
  "no_answer",
  "declined",
  "redirected",
  "network_failure",
  "client_error",
  "server_error",
  "global_error",
  "auth_failure",
  "timeout",
  "transport_error",
  "probe_error",
] as const;

export type CallOutcome = (typeof CALL_OUTCOMES)[number];

/** Outcome of a final response to INVITE (RFC 6076 §4.6–4.8 groupings). */
export function outcomeForStatus(status: number, cancelledByUs: boolean): CallOutcome {
  if (status >= 200 && status < 300) return "answered";
  if (status >= 300 && status < 400) return "redirected";
  switch (status) {
    case 401:
    case 407:
      return "auth_failure";
    case 486:
    case 600:
      return "busy";
    case 480:
      return "no_answer";
    case 487:
      return cancelledByUs ? "no_answer" : "client_error";
    case 603:
      return "declined";
    case 408:
    case 500:
    case 503:
    case 504:
      return "network_failure";
  }
  if (status < 500) return "client_error";
  if (status < 600) return "server_error";
  return "global_error";
}

/** What happened during a call, as far as classification is concerned. */
export interface CallFacts {
  /** Final response to the last INVITE transaction that reached us over the wire. */
  readonly inviteFinal: { readonly status: number; readonly reason: string } | undefined;
  readonly cancelledByUs: boolean;
  /** The ring timeout (not the overall timeout) is what made us CANCEL. */
  readonly ringTimedOut?: boolean;
  readonly ringTimeoutSeconds: number;
  /** A failure of our transport (refused, reset, TLS, DNS). */
  readonly transportError: { readonly message: string; readonly afterAnswer: boolean } | undefined;
  /** Our own fault: bad local address, exhausted resources, a bug. */
  readonly probeError: string | undefined;
  /** The overall timeout ended the call. */
  readonly timedOut: boolean;
  /** We stopped the call (shutdown) before it had a final answer. */
  readonly aborted?: boolean;
  readonly timeoutSeconds: number;
  /** INVITE copies sent, for the timeout reason. */
  readonly invitesSent: number;
  /** The BYE we sent never got a final response. */
  readonly byeUnanswered: boolean;
  /** The overall timeout came after the answer, before our BYE was done. */
  readonly timedOutAfterAnswer?: boolean;
  /** Messages from the peer we had to drop, summarised. */
  readonly droppedSummary: string | undefined;
}

/** Chooses exactly one outcome and a human reason for it. */
export function classifyCall(f: CallFacts): { outcome: CallOutcome; reason: string } {
  if (f.probeError) return { outcome: "probe_error", reason: f.probeError };
  if (f.aborted && !(f.inviteFinal && f.inviteFinal.status < 300)) {
    return {
      outcome: "probe_error",
      reason: "stopped before the call was answered: the prober is shutting down",
    };
  }
  const dropped = f.droppedSummary ? `; ${f.droppedSummary}` : "";
  const final = f.inviteFinal;
  if (final && final.status < 300) {
    if (f.transportError?.afterAnswer) {
      return { outcome: "transport_error", reason: `answered, then ${f.transportError.message}` };
    }
    if (f.byeUnanswered) {
      return { outcome: "timeout", reason: `answered, but our BYE got no final response${dropped}` };
    }
    // The far end answered, but the call could not be ended cleanly in time: not a success.
    if (f.timedOutAfterAnswer) {
      return {
        outcome: "timeout",
        reason: `answered, but still up when the timeout of ${f.timeoutSeconds} s ran out (the hold and the in-band token take ~4 s after answer)${dropped}`,
      };
    }
    return { outcome: "answered", reason: `${final.status} ${final.reason}`.trim() };
  }
  if (final) {
    const outcome = outcomeForStatus(final.status, f.cancelledByUs);
    const what = `${final.status} ${final.reason}`.trim();
    const reason =
      f.ringTimedOut && final.status === 487
        ? `no answer within the ring timeout of ${f.ringTimeoutSeconds} s: CANCEL sent, ${what}`
        : outcome === "auth_failure"
          ? `${what}: credentials missing or rejected`
          : what;
    return { outcome, reason };
  }
  if (f.transportError)
    return { outcome: "transport_error", reason: `${f.transportError.message}${dropped}` };
  const sent = f.invitesSent > 1 ? ` (INVITE sent ${f.invitesSent} times)` : "";
  const when = f.timedOut ? `within ${f.timeoutSeconds} s` : "before the INVITE transaction timed out";
  const cancel = f.ringTimedOut ? "; ring timeout reached, CANCEL pending" : "";
  return { outcome: "timeout", reason: `no final response ${when}${sent}${cancel}${dropped}` };
}
