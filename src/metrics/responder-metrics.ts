import { Counter, Gauge, Registry } from "prom-client";
import type { RejectReason, TokenState } from "../responder/access-policy.js";
import type { CallerIdCheck } from "../responder/caller-id.js";
import { registerBuildInfo } from "./build-info.js";
import { registerProcessMetrics } from "./process-metrics.js";

/** How a test call the answering point accepted ended. */
export type ResponderCallOutcome = "completed" | "cancelled" | "no_ack";

export const RESPONDER_OUTCOMES: readonly ResponderCallOutcome[] = ["completed", "cancelled", "no_ack"];
export const REJECT_REASONS: readonly RejectReason[] = [
  "not_served",
  "forbidden_network",
  "bad_token",
  "bad_credentials",
  "busy_concurrency",
  "busy_caller",
  "busy_rate",
  "bad_sdp",
  "overload",
  "method_not_allowed",
];
const CALLER_ID_RESULTS: readonly CallerIdCheck[] = ["match", "mismatch", "undeclared", "absent"];

/**
 * Every metric of the answering point, defined once (prefix probe112_responder_). Agent and path
 * labels come from the configuration (or "unknown"), so their number stays bounded.
 */
export class ResponderMetrics {
  readonly registry = new Registry();
  readonly testCalls: Counter<"agent" | "path" | "outcome">;
  readonly callerIdChecks: Counter<"agent" | "path" | "result">;
  readonly media: Counter<"agent" | "path" | "result">;
  readonly mediaPackets: Counter<"direction">;
  readonly rejects: Counter<"reason">;
  readonly tokens: Counter<"state" | "via">;
  readonly concurrent: Gauge;
  readonly options: Counter;
  readonly challenges: Counter;
  readonly dropped: Counter<"transport" | "reason">;
  readonly lastTest: Gauge<"agent" | "path">;

  constructor(known: ReadonlyArray<{ agent: string; path: string }> = []) {
    const registers = [this.registry];
    registerBuildInfo(this.registry);
    registerProcessMetrics(this.registry);
    this.testCalls = new Counter({
      name: "probe112_responder_test_calls_total",
      help: "Test calls answered, by calling agent, path and how they ended (completed: hung up normally).",
      labelNames: ["agent", "path", "outcome"],
      registers,
    });
    this.callerIdChecks = new Counter({
      name: "probe112_responder_caller_id_checks_total",
      help: "Caller ID received (P-Asserted-Identity, else From) compared with what the agent declared for the path.",
      labelNames: ["agent", "path", "result"],
      registers,
    });
    this.media = new Counter({
      name: "probe112_responder_media_total",
      help: "Answered test calls by whether their media reached us and was sent back (mirrored) or never came (none).",
      labelNames: ["agent", "path", "result"],
      registers,
    });
    this.mediaPackets = new Counter({
      name: "probe112_responder_media_packets_total",
      help: "RTP packets received from callers and sent back to them.",
      labelNames: ["direction"],
      registers,
    });
    this.rejects = new Counter({
      name: "probe112_responder_rejects_total",
      help: "Requests refused a test, by reason (403, 404, 486, 488, 503, 405).",
      labelNames: ["reason"],
      registers,
    });
    this.tokens = new Counter({
      name: "probe112_responder_token_checks_total",
      help: "Probe tokens seen, by check result and whether they came in the SIP header or in-band as DTMF.",
      labelNames: ["state", "via"],
      registers,
    });
    this.concurrent = new Gauge({
      name: "probe112_responder_concurrent_tests",
      help: "Test calls in progress.",
      registers,
    });
    this.challenges = new Counter({
      name: "probe112_responder_challenges_total",
      help: "Digest challenges (401) sent to callers with no other way in.",
      registers,
    });
    this.options = new Counter({
      name: "probe112_responder_options_total",
      help: "OPTIONS keep-alives answered.",
      registers,
    });
    this.dropped = new Counter({
      name: "probe112_responder_dropped_messages_total",
      help: "Received SIP messages dropped as unusable before processing, by transport and reason.",
      labelNames: ["transport", "reason"],
      registers,
    });
    this.lastTest = new Gauge({
      name: "probe112_responder_last_test_timestamp_seconds",
      help: "Unix time of the last test call answered, by agent and path.",
      labelNames: ["agent", "path"],
      registers,
    });
    // Series exist from the start, so rate() and absence alerts work before the first event.
    for (const r of REJECT_REASONS) this.rejects.inc({ reason: r }, 0);
    for (const d of ["received", "sent"]) this.mediaPackets.inc({ direction: d }, 0);
    for (const { agent, path } of [...known, { agent: "unknown", path: "unknown" }]) {
      for (const o of RESPONDER_OUTCOMES) this.testCalls.inc({ agent, path, outcome: o }, 0);
      for (const r of CALLER_ID_RESULTS) this.callerIdChecks.inc({ agent, path, result: r }, 0);
      for (const r of ["mirrored", "none"]) this.media.inc({ agent, path, result: r }, 0);
    }
  }

  /** Counts one token check. */
  token(state: TokenState, via: "header" | "dtmf"): void {
    this.tokens.inc({ state, via });
  }
}
