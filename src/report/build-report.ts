import type { KeyObject } from "node:crypto";
import { computeFigures } from "./figures.js";
import { findIncidents } from "./incidents.js";
import { journalEvidence } from "./journal-evidence.js";
import { agentOf, type CheckFigures, type GroupFigures, type Incident, type ReportModel } from "./model.js";
import { EARLY_SECONDS, LATE_SECONDS, nationalTestReceipts, nationalTestSlots } from "./national-tests.js";
import { type ProgressFn, PrometheusClient, PrometheusError } from "./prometheus-client.js";
import { STALENESS_SECONDS } from "./series-math.js";

export interface ReportOptions {
  readonly prometheusUrl: string;
  readonly from: Date;
  readonly to: Date;
  readonly journals: readonly string[];
  readonly keys: readonly KeyObject[];
  /** Subscribers per provider, for user-hours. */
  readonly users: ReadonlyMap<string, number>;
  /** Only these providers (all when empty). */
  readonly providers: readonly string[];
  readonly nationalTestGraceSeconds: number;
  readonly title?: string;
  readonly chunkSeconds?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly onProgress?: ProgressFn;
  /** Phases of the run, for the progress line. */
  readonly onPhase?: (phase: string) => void;
  readonly now?: () => Date;
}

/** How far before the range counters are read, so their first increase inside it is not lost. */
const COUNTER_LOOKBACK = 3600;

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Reads Prometheus and the journals and computes every figure of the compliance report. */
export async function buildReport(o: ReportOptions): Promise<ReportModel> {
  const from = o.from.getTime() / 1000;
  const to = o.to.getTime() / 1000;
  const problems: string[] = [];
  const client = new PrometheusClient({
    url: o.prometheusUrl,
    chunkSeconds: o.chunkSeconds,
    headers: o.headers,
    onProgress: o.onProgress,
  });
  let groups: GroupFigures[] = [];
  let checks: CheckFigures[] = [];
  let incidents: Incident[] = [];
  let nationalTests: ReportModel["nationalTests"] = [];
  let promError: string | null = null;
  const keep = (l: Readonly<Record<string, string>>) =>
    o.providers.length === 0 || o.providers.includes(l.provider ?? "");
  try {
    o.onPhase?.("checking Prometheus");
    await client.ping();
    const read = async (selector: string, lookback: number) =>
      (await client.samples(selector, from - lookback, to)).filter((s) => keep(s.labels));
    o.onPhase?.("reading test-call series");
    const checkInfo = await read("probe112_check_info", COUNTER_LOOKBACK);
    const attempts = await read("probe112_call_attempts_total", COUNTER_LOOKBACK);
    const probeSuccess = await read("probe112_probe_success", STALENESS_SECONDS);
    const srdBuckets = await read(
      'probe112_session_request_delay_seconds_bucket{result="success"}',
      COUNTER_LOOKBACK,
    );
    const verifications = await read('probe112_verifications_total{result="fail"}', COUNTER_LOOKBACK);
    const checkUpAll = await client.samples("probe112_check_up", from - STALENESS_SECONDS, to);
    ({ groups, checks } = computeFigures(
      { checkInfo, attempts, probeSuccess, srdBuckets, verifications },
      from,
      to,
    ));
    // Series read from before the range (the counters' look-back) make groups without any data
    // inside it: they have no figures, and a period where all are like that has no data.
    const empty = groups.filter((g) => g.coverage === 0 && g.attempts === 0 && g.probeErrors === 0);
    for (const g of empty)
      problems.push(`${g.provider} ${g.access} → ${g.destination}: no data in this period, so no figures`);
    groups = groups.filter((g) => !empty.includes(g));
    const known = new Set(checks.map((c) => JSON.stringify([c.agent, c.check])));
    const checkUp = checkUpAll.filter((s) => known.has(JSON.stringify([agentOf(s.labels), s.labels.check])));
    incidents = findIncidents(checkUp, checks, from, to, o.users);
    o.onPhase?.("reading NL-Alert receipts");
    for (const slot of nationalTestSlots(from, to)) {
      // A slot near the end of the range is still judged on the hours after it.
      const window = [slot - EARLY_SECONDS, slot + LATE_SECONDS] as const;
      const firstSeen = await client.samples(
        'probe112_cb_alert_first_seen_timestamp_seconds{kind="nl_test"}',
        window[0],
        window[1],
      );
      const connected = await client.samples("probe112_cb_receiver_connected", window[0], window[1]);
      if (connected.length === 0 && firstSeen.length === 0) {
        problems.push(
          `NL-Alert national test of ${new Date(slot * 1000).toISOString()}: no cell-broadcast receiver data around it, so no receipt can be shown`,
        );
        continue;
      }
      nationalTests = [
        ...nationalTests,
        ...nationalTestReceipts(slot, o.nationalTestGraceSeconds, firstSeen, connected),
      ];
    }
    if (groups.length === 0) {
      problems.push(
        `no probe112 test-call data at ${o.prometheusUrl} between ${o.from.toISOString()} and ${o.to.toISOString()}${o.providers.length ? ` for provider(s) ${o.providers.join(", ")}` : ""}: is this the Prometheus that scrapes the agents, and is the range right?`,
      );
    }
    for (const g of groups) {
      if (g.coverage < 0.99 && g.checks > 0) {
        problems.push(
          `${g.provider} ${g.access} → ${g.destination}: data for only ${pct(g.coverage)} of the time; time-based availability covers that part alone`,
        );
      }
    }
  } catch (e) {
    if (!(e instanceof PrometheusError)) throw e;
    promError = e.message;
    problems.push(`${e.message}: this report has no figures from Prometheus`);
  }
  for (const w of client.warnings) problems.push(`Prometheus warned: ${w} (some figures may be incomplete)`);
  o.onPhase?.("verifying journals");
  const evidence = journalEvidence(o.journals, o.keys, from, to);
  problems.push(...evidence.problems);
  const broken = evidence.journals.filter((j) => !j.ok);
  for (const j of broken) {
    problems.unshift(
      `journal "${j.journal}" at ${j.path} is BROKEN: ${j.problems.length} problem(s), first ${j.problems[0]?.kind} at ${j.problems[0]?.file}:${j.problems[0]?.line}`,
    );
  }
  return {
    title: o.title ?? "probe112 compliance report",
    generatedAt: (o.now?.() ?? new Date()).toISOString(),
    from: o.from.toISOString(),
    to: o.to.toISOString(),
    prometheus: { url: o.prometheusUrl, ok: promError === null, error: promError, warnings: client.warnings },
    groups,
    checks,
    incidents,
    nationalTests,
    journals: evidence.journals,
    crossConfirmation: evidence.crossConfirmation,
    problems,
    evidenceIntact: broken.length === 0 && evidence.missing === 0,
  };
}
