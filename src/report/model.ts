import type { MatchReport } from "../results/journal-match.js";
import type { VerifyReport } from "../results/journal-verify.js";
import type { SipCallResult } from "../results/result.js";
import type { Segment } from "./series-math.js";

/** The agent that exported a series: the `agent` target label, else the scrape instance. */
export function agentOf(labels: Readonly<Record<string, string>>): string {
  return labels.agent ?? labels.instance ?? "";
}

/** SRD percentiles in seconds, from the histogram of successful setups. */
export interface SrdFigures {
  readonly count: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/** What the report can say about one check (one agent, one path, one destination). */
export interface CheckFigures
  extends Pick<
    SipCallResult,
    "agent" | "check" | "provider" | "path" | "access" | "transport" | "destination" | "role"
  > {
  /** probe112_probe_success over the range: 1 up, 0 down, null unknown. */
  readonly timeline: readonly Segment[];
  readonly upSeconds: number;
  readonly downSeconds: number;
}

/** The figures of one provider × access technology × destination. */
export interface GroupFigures {
  readonly provider: string;
  readonly access: string;
  readonly destination: string;
  readonly role: string;
  readonly agents: readonly string[];
  readonly checks: number;
  /** Scheduled test calls (not confirmations, sweeps or fallbacks) and how many were answered. */
  readonly scheduled: number;
  readonly scheduledAnswered: number;
  /** scheduledAnswered / scheduled; null without scheduled calls. */
  readonly availabilityAttempts: number | null;
  /** Time with probe_success = 1 over time with data; null without data. */
  readonly availabilityTime: number | null;
  /** Share of the range (summed over the group's checks) with data. */
  readonly coverage: number;
  /** Every attempt (probe_error excluded), by outcome. */
  readonly attempts: number;
  readonly outcomes: Readonly<Record<string, number>>;
  /** The agent's own faults: never counted against the provider. */
  readonly probeErrors: number;
  readonly ser: number | null;
  readonly seer: number | null;
  readonly isa: number | null;
  readonly srd: SrdFigures;
  readonly verificationFailures: { readonly identity: number; readonly media: number };
}

/** One check's part in an incident. */
export interface IncidentCheck {
  readonly agent: string;
  readonly check: string;
  readonly provider: string;
  readonly path: string;
  readonly access: string;
  readonly destination: string;
  /** First failed probe of the run that was then confirmed (unix seconds). */
  readonly start: number;
  /** When the agent confirmed the failure (probe112_check_up went to 0). */
  readonly detected: number;
  /** probe112_check_up back to 1; null while still down at the end of the range. */
  readonly end: number | null;
}

/** Failures that overlap in time, across checks: one event for the regulator. */
export interface Incident {
  readonly id: number;
  readonly start: number;
  readonly end: number | null;
  readonly durationSeconds: number;
  /** From the first failed probe to the first confirmation, over all checks in the incident. */
  readonly timeToDetectSeconds: number;
  readonly providers: readonly string[];
  readonly accesses: readonly string[];
  readonly destinations: readonly string[];
  readonly checks: readonly IncidentCheck[];
  /** More than one provider at once: the 24 June 2019 pattern, a shared element failing. */
  readonly multiProvider: boolean;
  /** Σ users × hours per provider, when user counts were given; null otherwise. */
  readonly userHours: number | null;
  /** Data missing during the incident: its end or start may be later or earlier than shown. */
  readonly gaps: boolean;
}

/** One scheduled NL-Alert national test, as one operator's receivers saw it. */
export interface NationalTestReceipt {
  readonly scheduledAt: string;
  readonly operator: string;
  readonly modems: readonly string[];
  /** Earliest first-seen time over the operator's receivers; null when none received it. */
  readonly receivedAt: string | null;
  readonly latencySeconds: number | null;
  readonly received: boolean;
  /** Within the grace period after the slot. */
  readonly inTime: boolean;
  /** Receivers that had no data around the slot: no verdict possible for them. */
  readonly modemsWithoutData: readonly string[];
}

/** Integrity of one journal used by the report. */
export interface JournalIntegrity extends VerifyReport {
  readonly path: string;
  /** The key the journal was checked against (key id), if any. */
  readonly keyId: string | null;
}

/** The whole report, as rendered to HTML, CSV and JSON. */
export interface ReportModel {
  readonly title: string;
  readonly generatedAt: string;
  readonly from: string;
  readonly to: string;
  readonly prometheus: {
    readonly url: string;
    readonly ok: boolean;
    readonly error: string | null;
    readonly warnings: readonly string[];
  };
  readonly groups: readonly GroupFigures[];
  readonly checks: readonly CheckFigures[];
  readonly incidents: readonly Incident[];
  readonly nationalTests: readonly NationalTestReceipt[];
  readonly journals: readonly JournalIntegrity[];
  readonly crossConfirmation: MatchReport | null;
  /** Plain statements of what the report could not do: shown at the top, never hidden. */
  readonly problems: readonly string[];
  readonly evidenceIntact: boolean;
}
