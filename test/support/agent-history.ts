import { CALL_OUTCOMES } from "../../src/sip/outcome.js";
import type { MetricFamily, MetricType, SeriesData } from "./tsdb.js";

// Simulates what Prometheus would have stored from scraping probe112 agents: the same metric
// names, labels and declared-at-zero series as src/metrics/agent-metrics.ts, with calls,
// confirmations, restarts (counter resets) and unscraped stretches placed by the test. Nothing
// here computes a figure of the report: the tests compute those by hand.

/** Call-setup buckets of probe112_session_request_delay_seconds (SETUP_BUCKETS in agent-metrics.ts). */
export const SETUP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 12, 20, 30, 45, 60] as const;

/** The labels that place a check on the map (PATH_LABELS in agent-metrics.ts). */
export interface CheckLabels {
  readonly check: string;
  readonly provider: string;
  readonly path: string;
  readonly access: string;
  readonly transport: string;
  readonly destination: string;
  readonly role: string;
}

export interface ModemLabels {
  readonly modem: string;
  readonly operator: string;
  readonly region: string;
}

export interface SimCall {
  readonly outcome: (typeof CALL_OUTCOMES)[number];
  readonly attempt?: "scheduled" | "confirm" | "fallback" | "sweep";
  /** Session request delay; null when there was no non-100 response. */
  readonly srd?: number | null;
  /** Answered and verified; defaults to outcome === "answered". */
  readonly success?: boolean;
  /** A failed media check (counted as probe112_verifications_total{kind="media",result="fail"}). */
  readonly mediaFail?: boolean;
}

const key = (name: string, labels: Readonly<Record<string, string>>) =>
  `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))}`;

/** Every series written so far, by family. */
export class History {
  private readonly families = new Map<
    string,
    {
      type: MetricType;
      series: Map<string, { name: string; labels: Record<string, string>; samples: [number, number][] }>;
    }
  >();

  add(family: string, type: MetricType, name: string, labels: Record<string, string>, t: number, v: number) {
    let f = this.families.get(family);
    if (!f) {
      f = { type, series: new Map() };
      this.families.set(family, f);
    }
    const k = key(name, labels);
    let s = f.series.get(k);
    if (!s) {
      s = { name, labels, samples: [] };
      f.series.set(k, s);
    }
    s.samples.push([t, v]);
  }

  /** Another history's series, added to this one (a second scenario on another day). */
  merge(other: History): void {
    for (const f of other.toFamilies())
      for (const s of f.series)
        for (const [t, v] of s.samples) this.add(f.name, f.type, s.name, s.labels, t, v);
  }

  toFamilies(): MetricFamily[] {
    return [...this.families].map(([name, f]) => ({
      name,
      type: f.type,
      series: [...f.series.values()].map(
        (s): SeriesData => ({ name: s.name, labels: s.labels, samples: s.samples }),
      ),
    }));
  }
}

interface Histo {
  labels: Record<string, string>;
  buckets: number[];
  count: number;
  sum: number;
}

/** One agent as Prometheus sees it: its live metric values, written to the history at each scrape. */
export class SimAgent {
  private counters = new Map<string, { family: string; labels: Record<string, string>; value: number }>();
  private gauges = new Map<string, { family: string; labels: Record<string, string>; value: number }>();
  private histograms = new Map<string, Histo>();
  private checks = new Map<string, CheckLabels>();
  private modems: ModemLabels[] = [];

  /** `target`: the labels Prometheus adds (agent, instance, job). */
  constructor(
    private readonly history: History,
    private readonly target: Readonly<Record<string, string>>,
  ) {}

  private counter(family: string, labels: Record<string, string>, by: number) {
    const k = key(family, labels);
    const c = this.counters.get(k) ?? { family, labels, value: 0 };
    c.value += by;
    this.counters.set(k, c);
  }

  private gauge(family: string, labels: Record<string, string>, value: number) {
    this.gauges.set(key(family, labels), { family, labels, value });
  }

  /** What AgentMetrics.declareChecks does: info, check_up 1 and scheduled attempts at 0. */
  declare(checks: readonly CheckLabels[]): void {
    for (const c of checks) {
      this.checks.set(c.check, c);
      this.gauge("probe112_check_info", { ...c, interval_seconds: "60", media: "loopback" }, 1);
      this.gauge("probe112_check_up", { check: c.check }, 1);
      for (const outcome of CALL_OUTCOMES)
        this.counter("probe112_call_attempts", { ...c, outcome, attempt: "scheduled" }, 0);
    }
  }

  /** What AgentMetrics.record does with one result, `times` times over. */
  call(check: string, r: SimCall, times = 1): void {
    const l = this.checks.get(check);
    if (!l) throw new Error(`check ${check} not declared`);
    const attempt = r.attempt ?? "scheduled";
    this.counter("probe112_call_attempts", { ...l, outcome: r.outcome, attempt }, times);
    if (r.outcome === "probe_error") {
      this.counter("probe112_probe_errors", { reason: "internal" }, times);
      return;
    }
    const success = r.success ?? (r.outcome === "answered" && !r.mediaFail);
    if (attempt !== "fallback") this.gauge("probe112_probe_success", { ...l }, success ? 1 : 0);
    const srd = r.srd;
    if (srd !== undefined && srd !== null) {
      const hl = { ...l, result: r.outcome === "answered" ? "success" : "failure" };
      const k = key("srd", hl);
      const h = this.histograms.get(k) ?? {
        labels: hl,
        buckets: SETUP_BUCKETS.map(() => 0),
        count: 0,
        sum: 0,
      };
      SETUP_BUCKETS.forEach((le, j) => {
        if (srd <= le) h.buckets[j]! += times;
      });
      h.count += times;
      h.sum += srd * times;
      this.histograms.set(k, h);
    }
    if (r.outcome === "answered") {
      this.counter(
        "probe112_verifications",
        { ...l, kind: "media", result: r.mediaFail ? "fail" : "pass" },
        times,
      );
    }
  }

  /** probe112_check_up: 0 once a failure is confirmed, 1 on recovery. */
  setUp(check: string, up: boolean): void {
    this.gauge("probe112_check_up", { check }, up ? 1 : 0);
  }

  /** NL-Alert receivers, declared as CellBroadcastMetrics.declareModems does (connected here). */
  declareModems(modems: readonly ModemLabels[]): void {
    this.modems = [...modems];
    for (const m of modems) this.gauge("probe112_cb_receiver_connected", { ...m }, 1);
  }

  /** probe112_cb_receiver_connected: the modem's serial link went down or came back. */
  receiverConnected(modem: string, up: boolean): void {
    const m = this.modems.find((x) => x.modem === modem);
    if (!m) throw new Error(`modem ${modem} not declared`);
    this.gauge("probe112_cb_receiver_connected", { ...m }, up ? 1 : 0);
  }

  /** A logical alert first seen by `modem` at `at` (unix seconds). */
  alertFirstSeen(modem: string, kind: string, at: number): void {
    const m = this.modems.find((x) => x.modem === modem);
    if (!m) throw new Error(`modem ${modem} not declared`);
    this.gauge("probe112_cb_alert_first_seen_timestamp_seconds", { ...m, kind }, at);
  }

  /** A restart: every value is gone; the process declares its checks and modems again (counter reset). */
  restart(): void {
    const checks = [...this.checks.values()];
    const modems = this.modems;
    this.counters.clear();
    this.gauges.clear();
    this.histograms.clear();
    this.declare(checks);
    this.declareModems(modems);
  }

  /** One scrape at `t`: every live series gets a sample, with the target labels added. */
  scrape(t: number): void {
    const h = this.history;
    const withTarget = (l: Record<string, string>) => ({ ...l, ...this.target });
    for (const c of this.counters.values())
      h.add(c.family, "counter", `${c.family}_total`, withTarget(c.labels), t, c.value);
    for (const g of this.gauges.values())
      h.add(g.family, "gauge", g.family, withTarget(g.labels), t, g.value);
    const family = "probe112_session_request_delay_seconds";
    for (const x of this.histograms.values()) {
      const l = withTarget(x.labels);
      for (const [j, le] of SETUP_BUCKETS.entries())
        h.add(family, "histogram", `${family}_bucket`, { ...l, le: String(le) }, t, x.buckets[j]!);
      h.add(family, "histogram", `${family}_bucket`, { ...l, le: "+Inf" }, t, x.count);
      h.add(family, "histogram", `${family}_count`, l, t, x.count);
      h.add(family, "histogram", `${family}_sum`, l, t, x.sum);
    }
  }
}

/** The target labels Prometheus adds to an agent's series (deploy/prometheus/targets/agents.yml). */
export function agentTarget(agent: string): Record<string, string> {
  return { agent, instance: `${agent}.example.net:9113`, job: "probe112-agent" };
}
