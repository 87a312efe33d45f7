import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CheckSpec } from "../config/agent-config.js";
import type { SipCallResult } from "../results/result.js";
import { CALL_OUTCOMES } from "../sip/outcome.js";
import { registerBuildInfo, VERSION } from "./build-info.js";
import { registerProcessMetrics } from "./process-metrics.js";

/** Call-setup buckets (seconds): emergency routes can take tens of seconds to answer. */
const SETUP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 12, 20, 30, 45, 60];
const DISCONNECT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

const PATH_LABELS = ["check", "provider", "path", "access", "transport", "destination", "role"] as const;
type PathLabel = (typeof PATH_LABELS)[number];

/** The labels that place a result on the map: check, provider, path, access, transport, destination, role. */
export function pathLabels(r: Pick<SipCallResult, PathLabel>): Record<PathLabel, string> {
  return {
    check: r.check,
    provider: r.provider,
    path: r.path,
    access: r.access,
    transport: r.transport,
    destination: r.destination,
    role: r.role,
  };
}

/**
 * Every metric of the agent, defined once (prefix probe112_, base units, counters for SLIs and
 * histograms for RFC 6076 delays). Which agent exported a series is a target label added at
 * scrape or remote_write time; probe112_agent_info carries the agent's own description.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  private readonly attempts: Counter<PathLabel | "outcome" | "attempt">;
  private readonly probeSuccess: Gauge<PathLabel>;
  private readonly checkUp: Gauge<"check">;
  private readonly firstResponse: Histogram<PathLabel>;
  private readonly srd: Histogram<PathLabel | "result">;
  private readonly answer: Histogram<PathLabel>;
  private readonly sdd: Histogram<PathLabel>;
  private readonly verifications: Counter<PathLabel | "kind" | "result">;
  private readonly mediaMos: Gauge<PathLabel>;
  private readonly mediaLoss: Gauge<PathLabel>;
  private readonly mediaJitter: Gauge<PathLabel>;
  private readonly mediaRtt: Gauge<PathLabel>;
  private readonly lastRun: Gauge<"check">;
  private readonly lastSuccess: Gauge<"check">;
  private readonly checkInfo: Gauge<PathLabel | "interval_seconds" | "media">;
  readonly skipped: Counter<"check" | "reason">;
  readonly schedulerLag: Histogram;
  readonly probeErrors: Counter<"reason">;
  readonly journalErrors: Counter;
  readonly reloadOk: Gauge;
  readonly reloadTime: Gauge;
  readonly sweeps: Counter<"result">;
  /** The checks declared by the last (re)load, with their labels. */
  private declared = new Map<string, Record<PathLabel, string>>();

  constructor(agent: { id: string; operator: string; region: string }) {
    const registers = [this.registry];
    registerBuildInfo(this.registry);
    registerProcessMetrics(this.registry);
    new Gauge({
      name: "probe112_agent_info",
      help: "The agent exporting these metrics: who runs it and where; always 1.",
      labelNames: ["agent", "operator", "region", "version"],
      registers,
    }).set({ agent: agent.id, operator: agent.operator, region: agent.region, version: VERSION }, 1);
    const labels = [...PATH_LABELS];
    this.attempts = new Counter({
      name: "probe112_call_attempts_total",
      help: "Test calls placed, by path, destination, outcome (answered, busy, no_answer, …, probe_error) and why (scheduled, confirm, fallback, sweep).",
      labelNames: [...labels, "outcome", "attempt"],
      registers,
    });
    this.probeSuccess = new Gauge({
      name: "probe112_probe_success",
      help: "1 when the last call of the check succeeded: answered, completed, media and far-end identity verified.",
      labelNames: labels,
      registers,
    });
    this.checkUp = new Gauge({
      name: "probe112_check_up",
      help: "0 while a check is down: a failure confirmed by a quick re-probe; 1 otherwise.",
      labelNames: ["check"],
      registers,
    });
    this.firstResponse = new Histogram({
      name: "probe112_call_first_response_seconds",
      help: "First INVITE sent to the first response of any kind (100 Trying included).",
      labelNames: labels,
      buckets: SETUP_BUCKETS,
      registers,
    });
    this.srd = new Histogram({
      name: "probe112_session_request_delay_seconds",
      help: "RFC 6076 §4.3 Session Request Delay: first INVITE to the first non-100 provisional or the final response; success and failure apart.",
      labelNames: [...labels, "result"],
      buckets: SETUP_BUCKETS,
      registers,
    });
    this.answer = new Histogram({
      name: "probe112_call_answer_seconds",
      help: "First INVITE sent to the 2xx answer.",
      labelNames: labels,
      buckets: SETUP_BUCKETS,
      registers,
    });
    this.sdd = new Histogram({
      name: "probe112_session_disconnect_delay_seconds",
      help: "RFC 6076 §4.4 Session Disconnect Delay: our BYE to its final response.",
      labelNames: labels,
      buckets: DISCONNECT_BUCKETS,
      registers,
    });
    this.verifications = new Counter({
      name: "probe112_verifications_total",
      help: "Checks of answered calls: media round trip (kind=media), far-end identity (kind=identity); result pass or fail.",
      labelNames: [...labels, "kind", "result"],
      registers,
    });
    this.mediaMos = new Gauge({
      name: "probe112_media_mos",
      help: "E-model (ITU-T G.107) MOS estimate of the last call's media loop, 1–4.5.",
      labelNames: labels,
      registers,
    });
    this.mediaLoss = new Gauge({
      name: "probe112_media_loss_ratio",
      help: "Share (0–1) of the last call's marked audio frames that did not come back.",
      labelNames: labels,
      registers,
    });
    this.mediaJitter = new Gauge({
      name: "probe112_media_jitter_seconds",
      help: "RFC 3550 interarrival jitter of the media received in the last call.",
      labelNames: labels,
      registers,
    });
    this.mediaRtt = new Gauge({
      name: "probe112_media_round_trip_seconds",
      help: "Median round trip of our marked frames through the far end in the last call.",
      labelNames: labels,
      registers,
    });
    this.lastRun = new Gauge({
      name: "probe112_check_last_run_timestamp_seconds",
      help: "Unix time the check last ran.",
      labelNames: ["check"],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: "probe112_check_last_success_timestamp_seconds",
      help: "Unix time the check last succeeded.",
      labelNames: ["check"],
      registers,
    });
    this.checkInfo = new Gauge({
      name: "probe112_check_info",
      help: "The configured checks: path, destination and schedule; always 1.",
      labelNames: [...labels, "interval_seconds", "media"],
      registers,
    });
    this.skipped = new Counter({
      name: "probe112_runs_skipped_total",
      help: "Scheduled runs not made: overlap (still running), maintenance window, call_cap (agent-wide calls per minute).",
      labelNames: ["check", "reason"],
      registers,
    });
    this.schedulerLag = new Histogram({
      name: "probe112_scheduler_lag_seconds",
      help: "How late scheduled runs started.",
      buckets: LAG_BUCKETS,
      registers,
    });
    this.probeErrors = new Counter({
      name: "probe112_probe_errors_total",
      help: "The agent's own faults (never counted against a provider), by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.journalErrors = new Counter({
      name: "probe112_journal_write_errors_total",
      help: "Results that could not be written to the journal.",
      registers,
    });
    this.reloadOk = new Gauge({
      name: "probe112_config_last_reload_successful",
      help: "1 when the last configuration (re)load succeeded.",
      registers,
    });
    this.reloadTime = new Gauge({
      name: "probe112_config_last_reload_success_timestamp_seconds",
      help: "Unix time of the last successful configuration (re)load.",
      registers,
    });
    this.sweeps = new Counter({
      name: "probe112_sweeps_total",
      help: "On-demand sweeps requested over the API, by result (ok, unauthorized).",
      labelNames: ["result"],
      registers,
    });
  }

  /** Declares the configured checks: info series and zeroed counters, so every series exists from the start. */
  declareChecks(checks: readonly CheckSpec[]): void {
    this.checkInfo.reset();
    const next = new Map<string, Record<PathLabel, string>>();
    for (const c of checks) {
      const l = {
        check: c.name,
        provider: c.provider.id,
        path: c.path.id,
        access: c.path.access,
        transport: c.path.transport,
        destination: c.destination.id,
        role: c.destination.role,
      };
      next.set(c.name, l);
      this.checkInfo.set({ ...l, interval_seconds: String(c.intervalSeconds), media: c.media }, 1);
      // A reload must not declare a down check up: the scheduler reports only changes of state.
      if (!this.declared.has(c.name)) this.checkUp.set({ check: c.name }, 1);
      for (const outcome of CALL_OUTCOMES) this.attempts.inc({ ...l, outcome, attempt: "scheduled" }, 0);
      for (const reason of ["overlap", "maintenance", "call_cap"])
        this.skipped.inc({ check: c.name, reason }, 0);
    }
    // A check that is gone (or moved to other labels) must not leave a stale state behind: a
    // check_up of 0 nobody updates would page forever.
    for (const [name, old] of this.declared) {
      const now = next.get(name);
      if (now && Object.keys(old).every((k) => old[k as PathLabel] === now[k as PathLabel])) continue;
      for (const g of [this.probeSuccess, this.mediaMos, this.mediaLoss, this.mediaJitter, this.mediaRtt])
        g.remove(old);
      if (!now) {
        this.checkUp.remove({ check: name });
        this.lastRun.remove({ check: name });
        this.lastSuccess.remove({ check: name });
      }
    }
    this.declared = next;
  }

  /** Sets a check's confirmed state. */
  setUp(check: string, up: boolean): void {
    this.checkUp.set({ check }, up ? 1 : 0);
  }

  /** Maps one result to every metric it feeds. */
  record(r: SipCallResult): void {
    const l = pathLabels(r);
    const now = Date.now() / 1000;
    this.attempts.inc({ ...l, outcome: r.outcome, attempt: r.attempt });
    if (r.outcome === "probe_error") {
      this.probeErrors.inc({ reason: probeErrorReason(r.reason) });
      return;
    }
    if (r.attempt !== "fallback") {
      this.probeSuccess.set(l, r.success ? 1 : 0);
      this.lastRun.set({ check: r.check }, now);
      if (r.success) this.lastSuccess.set({ check: r.check }, now);
    }
    const t = r.call.timings;
    if (t.firstResponse !== null) this.firstResponse.observe(l, t.firstResponse);
    if (t.srd !== null)
      this.srd.observe({ ...l, result: r.outcome === "answered" ? "success" : "failure" }, t.srd);
    if (t.answer !== null) this.answer.observe(l, t.answer);
    if (t.sdd !== null) this.sdd.observe(l, t.sdd);
    if (r.verification.media !== null) {
      this.verifications.inc({
        ...l,
        kind: "media",
        result: r.verification.media === "ok" ? "pass" : "fail",
      });
    }
    if (r.verification.identity !== "not_checked") {
      this.verifications.inc({
        ...l,
        kind: "identity",
        result: r.verification.identity === "ok" ? "pass" : "fail",
      });
    }
    const m = r.call.media;
    if (m && m.verdict !== null) {
      if (m.quality) this.mediaMos.set(l, m.quality.mos);
      if (m.returned.share !== null) this.mediaLoss.set(l, 1 - m.returned.share);
      if (m.jitterSeconds !== null) this.mediaJitter.set(l, m.jitterSeconds);
      if (m.returned.rttSeconds !== null) this.mediaRtt.set(l, m.returned.rttSeconds);
    }
  }
}

/** A bounded label for an agent fault, from its message. */
export function probeErrorReason(message: string): string {
  if (/secret|password/i.test(message)) return "secret";
  if (/EADDRNOTAVAIL|EADDRINUSE|EACCES|bind/i.test(message)) return "local_address";
  if (/EMFILE|ENFILE|ENOBUFS/i.test(message)) return "resources";
  if (/ENOENT|cannot read/i.test(message)) return "file";
  return "internal";
}
