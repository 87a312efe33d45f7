import { carries, describeNotification, type WebhookNotification } from "../test/support/alert-webhook.js";
import {
  type AlertingStack,
  type StackPath,
  shippedCheck,
  shippedFor,
  shippedPrometheusIntervals,
  shippedRouting,
  startAlertingStack,
} from "../test/support/alerting-stack.js";
import { note, progress } from "./progress.js";
import { round3, type Spread, spread } from "./stats.js";

/** Options for {@link runAlertingBench}. */
export interface AlertingBenchOptions {
  readonly root: string;
  /** Every shipped interval, timeout and duration is divided by this for the measured runs. */
  readonly timeScale: number;
  /** Blackhole trials of one path each (Probe112PathDown). */
  readonly trials: number;
  /** Blackhole trials of every path at once (Probe112ChainDown). */
  readonly chainTrials: number;
  /** Measured seconds of the random-loss run (scaled time; × timeScale as shipped). */
  readonly lossSeconds: number;
  /** Drop probability per packet and direction in the loss run. */
  readonly lossProbability: number;
}

/** The timing parameters of the detection model, seconds. */
export interface DetectionParameters {
  /** Check interval, call timeout, re-probe delay and hold of the agent's checks. */
  readonly interval: number;
  readonly timeout: number;
  readonly confirmAfter: number;
  readonly hold: number;
  /**
   * How long a healthy call lasts, setup to BYE answered: the hold, stretched to carry the
   * in-band token (measured; it does not scale with the hold). A path cut during a call fails
   * with that call, at its timeout.
   */
  readonly callSeconds: number;
  readonly scrapeInterval: number;
  readonly evaluationInterval: number;
  /** `for:` of Probe112PathDown and Probe112ChainDown. */
  readonly pathDownFor: number;
  readonly chainDownFor: number;
  /** group_wait of the route that pages Probe112PathDown (noc-pager) and Probe112ChainDown (national-crisis). */
  readonly pathDownGroupWait: number;
  readonly chainDownGroupWait: number;
}

/** Quantiles of the model, seconds. */
export interface ModelQuantiles {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

/** A time measured in the scaled run, and the same times timeScale: as shipped. */
export interface Scaled {
  readonly measured: number | null;
  readonly asShipped: number | null;
}

/** One blackhole trial; seconds from the cut (restore for `resolved`). */
export interface DetectionTrial {
  readonly paths: readonly string[];
  /** The agent's /metrics showed probe112_check_up 0 (path trials only). */
  readonly agentDown: Scaled;
  /** The alert's activeAt in Prometheus: the evaluation that first saw the condition. */
  readonly prometheusActive: Scaled;
  /** The firing notification reached the webhook (null: not within the trial's limit). */
  readonly page: Scaled;
  /** From the restore to the resolved notification at the same receiver. */
  readonly resolved: Scaled;
  /** From firing in Prometheus (activeAt + for:) to the page: group_wait, or up to a group_interval in a group that still existed. */
  readonly alertmanagerDelay: Scaled;
  /**
   * The alert's Alertmanager group may still have existed: Prometheus resends a resolved alert
   * every minute for 15 minutes, and each resend revives its group for a while; a new alert in a
   * living group waits for the next group_interval instead of group_wait.
   */
  readonly groupMayExist: boolean;
  /** Other firing notifications between cut and restore (chain trials: alerts that should have been held back). */
  readonly otherPages: readonly string[];
  /** Firing notifications from the restore until everything had resolved. */
  readonly recoveryPages: readonly string[];
}

/** A latency distribution, seconds as shipped. */
export interface DetectionSummary {
  readonly receiver: string;
  readonly measured: Spread & { readonly missed: number };
  readonly agentDown: Spread;
  /** The model at the shipped values: what a deployment as shipped would see. */
  readonly model: ModelQuantiles;
  /** The model of this scaled run (the call length scaled too), to check the model against the trials. */
  readonly modelOfThisRun: ModelQuantiles;
  readonly trials: readonly DetectionTrial[];
}

/** What `bench/results/alerting.json` holds (without the environment). */
export interface AlertingBenchReport {
  readonly benchmark: "alerting";
  readonly method: readonly string[];
  readonly shipped: DetectionParameters & { readonly sources: readonly string[] };
  readonly measuredRun: {
    readonly timeScale: number;
    /** The run's own values, seconds of real time. */
    readonly parameters: DetectionParameters;
    readonly paths: readonly StackPath[];
    /** Answered calls' durations in this run, seconds of real time. */
    readonly callSeconds: Spread;
    /** How long after a scrape the rule group evaluates, in this run (seconds of real time); fixed per deployment. */
    readonly scrapeToEvaluationLag: number | null;
  };
  readonly goal: { readonly pageWithinSeconds: number; readonly atPercentile: 95 };
  readonly pathDown: DetectionSummary & { readonly goalMet: boolean };
  readonly chainDown: DetectionSummary & {
    /** Model: share of simultaneous cuts of every path in which a per-path page goes out before Probe112ChainDown can hold it back. */
    readonly perPathPageFirstShare: number;
  };
  /** The model at values that would meet the goal (see `changes`). */
  readonly proposal: {
    readonly changes: readonly string[];
    readonly parameters: DetectionParameters;
    readonly pathDownModel: ModelQuantiles;
    readonly chainDownModel: ModelQuantiles;
    readonly perPathPageFirstShare: number;
  };
  readonly loss: {
    readonly probability: number;
    readonly seconds: number;
    readonly asShippedSeconds: number;
    readonly packets: { readonly matched: number; readonly dropped: number; readonly ratio: number | null };
    /** Calls placed in the window by outcome/attempt. */
    readonly calls: Readonly<Record<string, number>>;
    readonly failedCalls: number;
    /** Times a check went down (probe112_check_up 0) as seen by polling the agent every 250 ms. */
    readonly checksDown: number;
    /** Alerts seen pending or firing in Prometheus (polled every second), by name. */
    readonly alertsSeen: Readonly<Record<string, number>>;
    readonly notifications: number;
    readonly notificationLog: readonly string[];
    readonly goalMet: boolean;
  };
  /** Path trials: notifications about anything but the trial's own Probe112PathDown. */
  readonly unexpectedNotifications: readonly string[];
}

const ACCESS = ["voip", "fixed", "volte", "cs"] as const;

/**
 * Paths alternating between the two providers, so that cutting one never takes a provider's
 * last path (that would be Probe112ProviderDown, which holds Probe112PathDown back).
 */
function benchPaths(n: number): StackPath[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${i % 2 === 0 ? "kpn" : "vz"}-${Math.floor(i / 2) + 1}`,
    provider: i % 2 === 0 ? "kpn" : "vodafoneziggo",
    access: ACCESS[Math.floor(i / 2) % ACCESS.length]!,
  }));
}

const GOAL_SECONDS = 60;
const DRAWS = 100_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: the model's draws are reproducible. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rounds `for:` up to whole evaluations: an alert fires at the first evaluation at least `for:` after activeAt. */
function forDelay(forSeconds: number, evaluation: number): number {
  return forSeconds > 0 ? Math.ceil(forSeconds / evaluation - 1e-9) * evaluation : 0;
}

/**
 * When a path cut at `u` seconds into its check's cycle has its first failed call, and when the
 * agent confirms it down: the call under way fails at its timeout, else the next call does; the
 * re-probe follows confirmAfter later (or the next slot's call, when that comes first).
 */
function pathFailure(p: DetectionParameters, u: number): { first: number; down: number } {
  const start = u < p.callSeconds ? -u : p.interval - u;
  const first = start + p.timeout;
  const confirm = p.timeout + p.confirmAfter < p.interval ? p.confirmAfter + p.timeout : p.interval;
  return { first, down: first + confirm };
}

/** The evaluation that first sees a change at `t`: the next scrape, then the next evaluation. */
function visibleAt(t: number, p: DetectionParameters, scrapePhase: number, evalPhase: number): number {
  const scrape = scrapePhase + Math.ceil((t - scrapePhase) / p.scrapeInterval) * p.scrapeInterval;
  return evalPhase + Math.ceil((scrape - evalPhase) / p.evaluationInterval) * p.evaluationInterval;
}

/**
 * The page latency model. The cut falls uniformly in each check's cycle (checks' phases are
 * independent); scrape and evaluation phases are uniform too (fixed per deployment, unknown).
 * Probe112PathDown: confirmed down, then visible, `for:` in whole evaluations, group_wait.
 * Probe112ChainDown: the last of the paths' first failed calls (no confirmation), visible, its
 * `for:` and group_wait. `perPathPageFirstShare`: how often, when every path is cut at once, a
 * Probe112PathDown is flushed (after its group_wait) before Probe112ChainDown reaches
 * Alertmanager to hold it back.
 */
export function detectionModel(
  p: DetectionParameters,
  paths: number,
): { path: ModelQuantiles; chain: ModelQuantiles; perPathPageFirstShare: number } {
  const random = seeded(112);
  const pathPages: number[] = [];
  const chainPages: number[] = [];
  let leaks = 0;
  for (let i = 0; i < DRAWS; i++) {
    const scrapePhase = random() * p.scrapeInterval;
    const evalPhase = random() * p.evaluationInterval;
    const failures = Array.from({ length: paths }, () => pathFailure(p, random() * p.interval));
    const pathFlush = failures.map(
      (f) =>
        visibleAt(f.down, p, scrapePhase, evalPhase) +
        forDelay(p.pathDownFor, p.evaluationInterval) +
        p.pathDownGroupWait,
    );
    pathPages.push(pathFlush[0]!);
    const chainActive =
      visibleAt(Math.max(...failures.map((f) => f.first)), p, scrapePhase, evalPhase) +
      forDelay(p.chainDownFor, p.evaluationInterval);
    chainPages.push(chainActive + p.chainDownGroupWait);
    if (Math.min(...pathFlush) < chainActive) leaks++;
  }
  const q = (values: number[]): ModelQuantiles => {
    const s = spread(values);
    return { p50: round3(s.median)!, p95: round3(s.p95)!, max: round3(s.max)! };
  };
  return { path: q(pathPages), chain: q(chainPages), perPathPageFirstShare: round3(leaks / DRAWS)! };
}

function shippedParameters(root: string, callSeconds: number): DetectionParameters & { sources: string[] } {
  const check = shippedCheck(root);
  const prom = shippedPrometheusIntervals(root);
  const pager = shippedRouting(root, {
    alertname: "Probe112PathDown",
    severity: "critical",
    scope: "path",
    provider: "other",
  }).find((r) => r.receiver === "noc-pager");
  const crisis = shippedRouting(root, {
    alertname: "Probe112ChainDown",
    severity: "critical",
    scope: "national",
  }).find((r) => r.receiver === "national-crisis");
  if (!pager || !crisis)
    throw new Error("alertmanager.yml no longer routes the pages to noc-pager and national-crisis");
  return {
    interval: check.interval,
    timeout: check.timeout,
    confirmAfter: check.confirmAfter,
    hold: check.hold,
    callSeconds,
    scrapeInterval: prom.scrape,
    evaluationInterval: prom.evaluation,
    pathDownFor: shippedFor(root, "Probe112PathDown"),
    chainDownFor: shippedFor(root, "Probe112ChainDown"),
    pathDownGroupWait: pager.groupWait,
    chainDownGroupWait: crisis.groupWait,
    sources: [
      "config/agent.example.yaml checks[0]: interval, timeout, confirmAfter, hold (also the schema defaults)",
      "callSeconds: measured in this run (answered calls, median); the in-band token stretches any hold under ~3.6 s",
      "deploy/prometheus/prometheus.yml global: scrape_interval, evaluation_interval",
      "deploy/prometheus/rules/probe112-alerts.yml: for: of Probe112PathDown and Probe112ChainDown",
      "deploy/alertmanager/alertmanager.yml: group_wait of the routes to noc-pager and national-crisis",
    ],
  };
}

function scaled(p: DetectionParameters, k: number): DetectionParameters {
  return {
    interval: p.interval / k,
    timeout: p.timeout / k,
    confirmAfter: p.confirmAfter / k,
    hold: p.hold / k,
    callSeconds: p.callSeconds / k,
    scrapeInterval: p.scrapeInterval / k,
    evaluationInterval: p.evaluationInterval / k,
    pathDownFor: p.pathDownFor / k,
    chainDownFor: p.chainDownFor / k,
    pathDownGroupWait: p.pathDownGroupWait / k,
    chainDownGroupWait: p.chainDownGroupWait / k,
  };
}

const seconds = (from: number, to: number | null | undefined) =>
  to === null || to === undefined ? null : round3((to - from) / 1000);
const pair = (x: number | null, k: number): Scaled => ({
  measured: x,
  asShipped: x === null ? null : round3(x * k),
});

/** Waits until Prometheus has nothing pending or firing, so that a trial starts from quiet. */
async function quiet(stack: AlertingStack, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const alerts = await stack.prometheus.alerts();
    if (alerts.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`alerts still pending or firing: ${alerts.map((a) => a.labels.alertname).join(", ")}`);
    await sleep(250);
  }
}

const firing = (from: number, to: number, stack: AlertingStack, skip: (n: WebhookNotification) => boolean) =>
  stack.webhook.notifications
    .filter((n) => n.receivedAt >= from && n.receivedAt < to && !skip(n))
    .filter((n) => n.alerts.some((a) => a.status === "firing"))
    .map(describeNotification);

/** One blackhole trial: cut `paths`, wait for the page, restore, wait until everything has resolved. */
async function trial(
  stack: AlertingStack,
  o: {
    paths: readonly string[];
    alertname: string;
    receiver: string;
    labels: Record<string, string>;
    interval: number;
    /** The alert's `for:`, seconds of real time. */
    forSeconds: number;
    limitMs: number;
    timeScale: number;
    groupMayExist: boolean;
  },
): Promise<DetectionTrial> {
  // The cut falls anywhere in the checks' cycle.
  await sleep(Math.random() * o.interval * 1000);
  await stack.blackhole(o.paths);
  const t0 = Date.now();
  const check = o.paths.length === 1 ? stack.check(o.paths[0]!) : undefined;
  let agentDownAt: number | undefined;
  let activeAt: number | undefined;
  const isPage = (n: WebhookNotification) =>
    n.path === o.receiver && carries(n, o.alertname, "firing", o.labels);
  let page: WebhookNotification | undefined;
  while (!page && Date.now() < t0 + o.limitMs) {
    if (
      check &&
      agentDownAt === undefined &&
      (await stack.agent.metric("probe112_check_up", { check })) === 0
    )
      agentDownAt = Date.now();
    if (activeAt === undefined) {
      const a = (await stack.prometheus.alerts()).find(
        (x) =>
          x.labels.alertname === o.alertname && Object.entries(o.labels).every(([k, v]) => x.labels[k] === v),
      );
      if (a) activeAt = Date.parse(a.activeAt);
    }
    page = stack.webhook.notifications.find((n) => n.receivedAt >= t0 && isPage(n));
    if (!page) await sleep(100);
  }
  await stack.restore();
  const t1 = Date.now();
  const isResolved = (n: WebhookNotification) =>
    n.path === o.receiver && carries(n, o.alertname, "resolved", o.labels);
  let resolved: WebhookNotification | undefined;
  if (page) {
    while (!resolved && Date.now() < t1 + o.limitMs) {
      resolved = stack.webhook.notifications.find((n) => n.receivedAt >= t1 && isResolved(n));
      if (!resolved) await sleep(100);
    }
  }
  await quiet(stack, o.limitMs);
  // Alertmanager still flushes what resolved last: wait a group_interval (scaled 1m) for it.
  await sleep((60 / o.timeScale) * 1000 + 1000);
  const own = (n: WebhookNotification) => n.alerts.every((a) => a.labels.alertname === o.alertname);
  return {
    paths: o.paths,
    agentDown: pair(seconds(t0, agentDownAt), o.timeScale),
    prometheusActive: pair(seconds(t0, activeAt), o.timeScale),
    page: pair(seconds(t0, page?.receivedAt), o.timeScale),
    resolved: pair(seconds(t1, resolved?.receivedAt), o.timeScale),
    alertmanagerDelay: pair(
      activeAt === undefined ? null : seconds(activeAt + o.forSeconds * 1000, page?.receivedAt),
      o.timeScale,
    ),
    groupMayExist: o.groupMayExist,
    otherPages: firing(t0, t1, stack, own),
    recoveryPages: firing(t1, Date.now(), stack, own),
  };
}

/** The lag from the agent target's last scrape to the calls group's last evaluation (mod the interval). */
async function scrapeToEvaluationLag(stack: AlertingStack, evaluation: number): Promise<number | null> {
  const get = async (path: string) =>
    ((await (await fetch(`${stack.prometheus.url}${path}`)).json()) as { data: unknown }).data;
  const targets = (await get("/api/v1/targets")) as {
    activeTargets: Array<{ labels: Record<string, string>; lastScrape: string }>;
  };
  const rules = (await get("/api/v1/rules")) as { groups: Array<{ name: string; lastEvaluation: string }> };
  const scrape = targets.activeTargets.find((t) => t.labels.job === "probe112-agent")?.lastScrape;
  const evaluated = rules.groups.find((g) => g.name === "probe112-calls")?.lastEvaluation;
  if (!scrape || !evaluated) return null;
  const lag = (Date.parse(evaluated) - Date.parse(scrape)) / 1000;
  return round3(((lag % evaluation) + evaluation) % evaluation);
}

function summarise(
  receiver: string,
  trials: DetectionTrial[],
  model: ModelQuantiles,
  modelOfThisRun: ModelQuantiles,
): DetectionSummary {
  const pages = trials.map((t) => t.page.asShipped).filter((x): x is number => x !== null);
  return {
    receiver,
    measured: { ...spread(pages), missed: trials.length - pages.length },
    agentDown: spread(trials.map((t) => t.agentDown.asShipped).filter((x): x is number => x !== null)),
    model,
    modelOfThisRun,
    trials,
  };
}

/** Sums of a counter's samples by two labels ("a/b"), from /metrics text. */
function sumsBy(text: string, name: string, a: string, b: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{(.*)\\} (\\S+)$`, "gm"))) {
    const va = new RegExp(`${a}="([^"]*)"`).exec(m[1]!)?.[1];
    const vb = new RegExp(`${b}="([^"]*)"`).exec(m[1]!)?.[1];
    if (va === undefined || vb === undefined) continue;
    const key = `${va}/${vb}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[2]));
  }
  return out;
}

/** Random loss on every path, both directions, with nothing else going on: what gets paged. */
async function lossRun(
  stack: AlertingStack,
  o: AlertingBenchOptions,
  paths: readonly StackPath[],
  tailSeconds: number,
): Promise<AlertingBenchReport["loss"]> {
  const before = await stack.agent.scrape();
  const packets0 = await stack.packetCounters();
  const start = Date.now();
  const end = start + o.lossSeconds * 1000;
  await stack.loss(o.lossProbability);
  const alertsSeen: Record<string, number> = {};
  const alertKeys = new Set<string>();
  const down = new Set<string>();
  let checksDown = 0;
  let nextAlertPoll = 0;
  let shown = -1;
  while (Date.now() < end) {
    const left = Math.ceil((end - Date.now()) / 10_000) * 10;
    if (left !== shown) {
      shown = left;
      progress(`alerting: ${o.lossProbability * 100} % loss on every path, ${left} s left …`);
    }
    const text = await stack.agent.scrape();
    for (const p of paths) {
      const check = stack.check(p.id);
      const up = new RegExp(`^probe112_check_up\\{check="${check}"\\} (\\S+)$`, "m").exec(text)?.[1];
      if (up === "0" && !down.has(check)) {
        down.add(check);
        checksDown++;
      } else if (up === "1") down.delete(check);
    }
    if (Date.now() >= nextAlertPoll) {
      nextAlertPoll = Date.now() + 1000;
      for (const a of await stack.prometheus.alerts()) {
        const key = `${JSON.stringify(a.labels)} ${a.activeAt}`;
        if (alertKeys.has(key)) continue;
        alertKeys.add(key);
        alertsSeen[a.labels.alertname!] = (alertsSeen[a.labels.alertname!] ?? 0) + 1;
      }
    }
    await sleep(250);
  }
  const packets1 = await stack.packetCounters();
  const after = await stack.agent.scrape();
  await stack.restore();
  progress("alerting: loss run over, waiting for late notifications …");
  await sleep(tailSeconds * 1000);
  const a0 = sumsBy(before, "probe112_call_attempts_total", "outcome", "attempt");
  const calls: Record<string, number> = {};
  for (const [key, v] of sumsBy(after, "probe112_call_attempts_total", "outcome", "attempt")) {
    const d = v - (a0.get(key) ?? 0);
    if (d !== 0) calls[key] = d;
  }
  const notifications = stack.webhook.notifications.filter((n) => n.receivedAt >= start);
  const matched = packets1.matched - packets0.matched;
  return {
    probability: o.lossProbability,
    seconds: o.lossSeconds,
    asShippedSeconds: o.lossSeconds * o.timeScale,
    packets: {
      matched,
      dropped: packets1.dropped,
      ratio: matched > 0 ? round3(packets1.dropped / matched) : null,
    },
    calls,
    failedCalls: Object.entries(calls)
      .filter(([key]) => !key.startsWith("answered/"))
      .reduce((n, [, v]) => n + v, 0),
    checksDown,
    alertsSeen,
    notifications: notifications.length,
    notificationLog: notifications.map(describeNotification),
    goalMet: notifications.length === 0,
  };
}

/**
 * Time from a path's blackhole to its page at the shipped values (a run scaled in time, and a
 * model of the same chain), and the false pages of a run with random loss on every path.
 */
export async function runAlertingBench(o: AlertingBenchOptions): Promise<AlertingBenchReport> {
  const k = o.timeScale;
  // A fresh path for every trial, so that no trial's page lands in an alert group of the last.
  const PATHS = benchPaths(Math.max(4, o.trials));
  // The call length is measured below; until then the model only bounds the trials' waits.
  const provisional = shippedParameters(o.root, 4);
  const run = scaled(provisional, k);
  const stack = await startAlertingStack({
    root: o.root,
    timeScale: k,
    paths: PATHS,
    check: { interval: run.interval, timeout: run.timeout, confirmAfter: run.confirmAfter, hold: run.hold },
  });
  try {
    if (run.timeout <= provisional.callSeconds)
      note(
        `alerting: a scaled timeout of ${run.timeout} s is shorter than a call (~${provisional.callSeconds} s): every healthy call is cut by it; use a smaller --alerting-scale`,
      );
    // Generous: twice the model's worst case plus a slow machine's margin.
    const limitMs = ((2 * detectionModel(provisional, PATHS.length).path.max) / k + 20) * 1000;
    progress("alerting: waiting for every path to succeed …");
    const ready = Date.now() + 60_000 + run.interval * 2000;
    while (
      (await stack.prometheus.query('probe112_probe_success{role="test112"} == 1')).length < PATHS.length
    ) {
      if (Date.now() > ready) throw new Error("not every path succeeded within a minute of the start");
      await sleep(500);
    }
    await quiet(stack, 60_000);

    const pathTrials: DetectionTrial[] = [];
    for (let i = 0; i < o.trials; i++) {
      const path = PATHS[i % PATHS.length]!;
      progress(`alerting: path trial ${i + 1}/${o.trials}: blackholing ${path.id} …`);
      const t = await trial(stack, {
        paths: [path.id],
        alertname: "Probe112PathDown",
        receiver: "/noc-pager",
        labels: { path: path.id },
        interval: run.interval,
        forSeconds: run.pathDownFor,
        limitMs,
        timeScale: k,
        groupMayExist: i >= PATHS.length,
      });
      pathTrials.push(t);
      note(
        `alerting: ${path.id}: agent down after ${t.agentDown.asShipped ?? "–"} s, paged after ${t.page.asShipped ?? "never"} s (Alertmanager ${t.alertmanagerDelay.asShipped ?? "–"} s), resolved ${t.resolved.asShipped ?? "–"} s after the restore (as shipped)`,
      );
    }

    const chainTrials: DetectionTrial[] = [];
    for (let i = 0; i < o.chainTrials; i++) {
      progress(`alerting: chain trial ${i + 1}/${o.chainTrials}: blackholing every path …`);
      const t = await trial(stack, {
        paths: PATHS.map((p) => p.id),
        alertname: "Probe112ChainDown",
        receiver: "/national-crisis",
        labels: {},
        interval: run.interval,
        forSeconds: run.chainDownFor,
        limitMs,
        timeScale: k,
        // One group for the whole country: every chain trial after the first may find it alive.
        groupMayExist: i > 0,
      });
      chainTrials.push(t);
      note(
        `alerting: every path: paged after ${t.page.asShipped ?? "never"} s (Alertmanager ${t.alertmanagerDelay.asShipped ?? "–"} s), resolved ${t.resolved.asShipped ?? "–"} s after the restore (as shipped); other pages ${t.otherPages.length}, pages while recovering ${t.recoveryPages.length}`,
      );
    }
    const lag = await scrapeToEvaluationLag(stack, run.evaluationInterval);

    // Whatever the window sets off still gets time to arrive: the longest for: of a critical
    // alert (2m), two evaluations and a group_interval (1m), scaled.
    const loss = await lossRun(stack, o, PATHS, (120 + 2 * provisional.evaluationInterval + 60) / k + 5);

    const answered = stack.agent.journal().filter((r) => r.outcome === "answered");
    const callSeconds = spread(answered.map((r) => Number(r.durationSeconds)));
    const shipped = shippedParameters(o.root, round3(callSeconds.median ?? provisional.callSeconds)!);
    // The run as the model sees it, in shipped seconds: everything scaled but the call length.
    const thisRun = { ...shipped, callSeconds: shipped.callSeconds * k };
    const model = detectionModel(shipped, PATHS.length);
    const modelOfRun = detectionModel(thisRun, PATHS.length);
    const proposed = proposal(shipped);
    const proposedModel = detectionModel(proposed.parameters, PATHS.length);
    const pathDown = summarise("/noc-pager", pathTrials, model.path, modelOfRun.path);
    return {
      benchmark: "alerting",
      method: [
        `The whole chain runs ${k} times faster than shipped: the agent's check interval, timeout, confirmAfter and hold, Prometheus's scrape and evaluation intervals and every for:, and Alertmanager's group_wait, group_interval and repeat_interval are the shipped values divided by ${k}. 'asShipped' is the measured time multiplied by ${k}.`,
        "A healthy call cannot be scaled: the in-band token (RFC 4733 digits) stretches any hold to ~3.6 s, so a call lasts ~3.8 s at any scale (callSeconds). It matters where a path is cut during a call (that call fails at its timeout, earlier than the next call would); in the scaled run that is k times likelier than as shipped. So the trials are compared with the model of this run ('modelOfThisRun', the call length times k), and the figures for a deployment as shipped are the model at the shipped values ('model'), with the measured call length.",
        "A path is cut with iptables DROP on its address in both directions inside the agent's network namespace, at a random moment of its check cycle; the clock starts once the rule is in place. The page is the firing notification at the webhook standing in for the receiver (noc-pager for Probe112PathDown, national-crisis for Probe112ChainDown); 'agentDown' is the agent's /metrics showing probe112_check_up 0 (polled every 100 ms), 'prometheusActive' the alert's activeAt.",
        "Fixed costs (process wake-ups, HTTP, a few ms each) are multiplied too, so 'asShipped' overstates them slightly. Each path trial cuts a path not cut before: Prometheus resends a resolved alert every minute for 15 minutes (neither scales), each resend revives the alert's Alertmanager group until the next 30 s clean-up, and a new alert in a living group is sent at its next group_interval instead of after group_wait ('groupMayExist', 'alertmanagerDelay'). Chain trials share one group (group_by alertname), so every chain trial after the first may wait for it.",
        "Prometheus's scrape-to-evaluation lag is fixed for a deployment (offsets hashed from target and group), so every trial shares this run's lag ('scrapeToEvaluationLag'); the model draws it. Model: the cut uniform in each check's cycle; the first failed call at the timeout of the call under way, or of the next call; the agent confirms down after confirmAfter and the re-probe's timeout (or the next slot's call when the re-probe would not come before it); then the next scrape, the next evaluation, for: in whole evaluations, and the route's group_wait. Probe112ChainDown: the last of the paths' first failed calls (no confirmation). perPathPageFirstShare: every path cut at once, the share of draws in which some Probe112PathDown is flushed before Probe112ChainDown reaches Alertmanager (it is then not held back).",
        `Loss run: every path drops packets at random with probability ${o.lossProbability} in each direction (iptables statistic, inside the namespace) for ${o.lossSeconds} s, i.e. ${o.lossSeconds * k} s as shipped, after every alert group of the trials is gone; notifications are counted from its start until the longest critical for: (2m), two evaluations and a group_interval (1m), scaled, plus 5 s, after its end. The 15 minute windows of the rules are not scaled, so windowed alerts see more calls per window than as shipped.`,
      ],
      shipped,
      measuredRun: {
        timeScale: k,
        parameters: { ...run, callSeconds: shipped.callSeconds },
        paths: PATHS,
        callSeconds,
        scrapeToEvaluationLag: lag,
      },
      goal: { pageWithinSeconds: GOAL_SECONDS, atPercentile: 95 },
      pathDown: {
        ...pathDown,
        goalMet:
          pathDown.measured.missed === 0 &&
          (pathDown.measured.p95 ?? Infinity) <= GOAL_SECONDS &&
          model.path.p95 <= GOAL_SECONDS,
      },
      chainDown: {
        ...summarise("/national-crisis", chainTrials, model.chain, modelOfRun.chain),
        perPathPageFirstShare: model.perPathPageFirstShare,
      },
      proposal: {
        changes: proposed.changes,
        parameters: proposed.parameters,
        pathDownModel: proposedModel.path,
        chainDownModel: proposedModel.chain,
        perPathPageFirstShare: proposedModel.perPathPageFirstShare,
      },
      loss,
      unexpectedNotifications: pathTrials.flatMap((t) => [...t.otherPages, ...t.recoveryPages]),
    };
  } finally {
    await stack.stop();
  }
}

/** Values that bring a dead path's page under the goal, for the model to check. */
function proposal(shipped: DetectionParameters & { sources?: unknown }): {
  changes: string[];
  parameters: DetectionParameters;
} {
  const { sources: _, ...values } = shipped;
  return {
    changes: [
      "agent checks of the 112 test destination (config/agent.example.yaml; the schema defaults): interval 60 → 20 s, timeout 30 → 10 s, confirmAfter 10 → 2 s, ringTimeout 20 → 6 s (below timeout − the ~3.6 s hold)",
      "deploy/prometheus/prometheus.yml global: scrape_interval 15s → 5s, evaluation_interval 15s → 5s, scrape_timeout 10s → 4s",
      "deploy/prometheus/rules/probe112-alerts.yml: for: of Probe112PathDown and Probe112ProviderDown 15s → 5s (still one evaluation)",
    ],
    parameters: {
      ...values,
      interval: 20,
      timeout: 10,
      confirmAfter: 2,
      scrapeInterval: 5,
      evaluationInterval: 5,
      pathDownFor: 5,
    },
  };
}

/** A few lines for the terminal. */
export function formatAlertingSummary(r: AlertingBenchReport): string {
  const s = (x: number | null) => (x === null ? "–" : `${x.toFixed(1)} s`);
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const p = r.pathDown;
  const c = r.chainDown;
  const l = r.loss;
  const other = c.trials.reduce((n, t) => n + t.otherPages.length, 0);
  const recovery = c.trials.reduce((n, t) => n + t.recoveryPages.length, 0);
  return [
    `Alerting: measured ${r.measuredRun.timeScale}× faster than shipped, times as shipped (measured × ${r.measuredRun.timeScale})`,
    `  dead path → Probe112PathDown at ${p.receiver}: measured p50 ${s(p.measured.median)}, p95 ${s(p.measured.p95)}, max ${s(p.measured.max)} (${p.measured.count} trials${p.measured.missed ? `, ${p.measured.missed} missed` : ""}; model of this run p50 ${s(p.modelOfThisRun.p50)}, p95 ${s(p.modelOfThisRun.p95)})`,
    `    as shipped (model): p50 ${s(p.model.p50)}, p95 ${s(p.model.p95)}, max ${s(p.model.max)}; goal p95 ≤ ${r.goal.pageWithinSeconds} s: ${p.goalMet ? "met" : "NOT met"}`,
    `    proposed values (model): p50 ${s(r.proposal.pathDownModel.p50)}, p95 ${s(r.proposal.pathDownModel.p95)}, max ${s(r.proposal.pathDownModel.max)}`,
    `  every path dead → Probe112ChainDown at ${c.receiver}: measured p50 ${s(c.measured.median)}, max ${s(c.measured.max)} (${c.measured.count} trials; model of this run p50 ${s(c.modelOfThisRun.p50)}); as shipped (model) p50 ${s(c.model.p50)}, p95 ${s(c.model.p95)}`,
    `    per-path page before the chain alert: model ${pct(c.perPathPageFirstShare)} as shipped, ${pct(r.proposal.perPathPageFirstShare)} proposed; measured ${other} such pages, and ${recovery} pages while recovering`,
    `  ${l.probability * 100} % loss on every path for ${l.seconds} s (${l.asShippedSeconds} s as shipped): ${l.notifications} notifications (goal 0: ${l.goalMet ? "met" : "NOT met"}); ${l.failedCalls} failed calls of ${Object.values(l.calls).reduce((a, b) => a + b, 0)}, ${l.checksDown} checks down, ${l.packets.dropped} of ${l.packets.matched} packets dropped`,
  ].join("\n");
}
