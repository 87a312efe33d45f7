import { agentOf, type CheckFigures, type GroupFigures } from "./model.js";
import type { RawSeries } from "./prometheus-client.js";
import { counterIncrease, histogramQuantile, secondsWhere, timeline } from "./series-math.js";

/** The raw series the figures are made of. */
export interface FigureInputs {
  readonly checkInfo: readonly RawSeries[];
  readonly attempts: readonly RawSeries[];
  readonly probeSuccess: readonly RawSeries[];
  /** probe112_session_request_delay_seconds_bucket{result="success"}. */
  readonly srdBuckets: readonly RawSeries[];
  readonly verifications: readonly RawSeries[];
}

/** RFC 6076 §4.7: outcomes caused by the called user, not the network. */
const EFFECTIVE = new Set(["answered", "busy", "no_answer", "declined"]);

const groupKey = (l: Readonly<Record<string, string>>) =>
  JSON.stringify([l.provider ?? "", l.access ?? "", l.destination ?? ""]);
const checkKey = (l: Readonly<Record<string, string>>) => JSON.stringify([agentOf(l), l.check ?? ""]);

interface Acc {
  provider: string;
  access: string;
  destination: string;
  role: string;
  agents: Set<string>;
  checks: Set<string>;
  scheduled: number;
  scheduledAnswered: number;
  outcomes: Record<string, number>;
  up: number;
  down: number;
  known: number;
  span: number;
  buckets: Map<number, number>;
  identityFailures: number;
  mediaFailures: number;
}

const ratio = (n: number, d: number) => (d > 0 ? n / d : null);

/**
 * Per check and per provider × access × destination: attempt- and time-based availability,
 * SER, SEER, ISA (RFC 6076 §4.6–4.8) and SRD percentiles, all over (from, to].
 */
export function computeFigures(
  input: FigureInputs,
  from: number,
  to: number,
): { groups: GroupFigures[]; checks: CheckFigures[] } {
  // A counter first seen after its agent was already being scraped was created in between and
  // counts from zero (a histogram's series appear with their first observation). One that appears
  // together with its agent (a new agent, or one back after missing data) has an unknown past: its
  // first sample is the baseline.
  const agentSeen = new Map<string, number>();
  for (const s of input.checkInfo) {
    const a = agentOf(s.labels);
    const t = s.samples[0]?.[0];
    if (t !== undefined && t < (agentSeen.get(a) ?? Number.POSITIVE_INFINITY)) agentSeen.set(a, t);
  }
  const increase = (s: RawSeries) => {
    const seen = agentSeen.get(agentOf(s.labels)) ?? Number.POSITIVE_INFINITY;
    return counterIncrease(s.samples, from, to, seen < (s.samples[0]?.[0] ?? Number.NEGATIVE_INFINITY));
  };
  const groups = new Map<string, Acc>();
  const group = (l: Readonly<Record<string, string>>): Acc => {
    const key = groupKey(l);
    let g = groups.get(key);
    if (!g) {
      g = {
        provider: l.provider ?? "",
        access: l.access ?? "",
        destination: l.destination ?? "",
        role: l.role ?? "",
        agents: new Set(),
        checks: new Set(),
        scheduled: 0,
        scheduledAnswered: 0,
        outcomes: {},
        up: 0,
        down: 0,
        known: 0,
        span: 0,
        buckets: new Map(),
        identityFailures: 0,
        mediaFailures: 0,
      };
      groups.set(key, g);
    }
    g.agents.add(agentOf(l));
    if (l.check) g.checks.add(checkKey(l));
    return g;
  };
  for (const s of input.checkInfo) group(s.labels);
  for (const s of input.attempts) {
    const n = increase(s);
    const g = group(s.labels);
    const outcome = s.labels.outcome ?? "unknown";
    g.outcomes[outcome] = (g.outcomes[outcome] ?? 0) + n;
    if (s.labels.attempt === "scheduled" && outcome !== "probe_error") {
      g.scheduled += n;
      if (outcome === "answered") g.scheduledAnswered += n;
    }
  }
  const checks: CheckFigures[] = [];
  for (const s of input.probeSuccess) {
    const l = s.labels;
    const segments = timeline(s.samples, from, to);
    const up = secondsWhere(segments, (v) => v === 1);
    const down = secondsWhere(segments, (v) => v === 0);
    const g = group(l);
    g.up += up;
    g.down += down;
    g.known += up + down;
    g.span += to - from;
    checks.push({
      agent: agentOf(l),
      check: l.check ?? "",
      provider: l.provider ?? "",
      path: l.path ?? "",
      access: l.access ?? "",
      transport: l.transport ?? "",
      destination: l.destination ?? "",
      role: l.role ?? "",
      timeline: segments,
      upSeconds: up,
      downSeconds: down,
    });
  }
  for (const s of input.srdBuckets) {
    const le = Number(s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : s.labels.le);
    if (Number.isNaN(le)) continue;
    const g = group(s.labels);
    g.buckets.set(le, (g.buckets.get(le) ?? 0) + increase(s));
  }
  for (const s of input.verifications) {
    if (s.labels.result !== "fail") continue;
    const g = group(s.labels);
    const n = increase(s);
    if (s.labels.kind === "identity") g.identityFailures += n;
    if (s.labels.kind === "media") g.mediaFailures += n;
  }
  const out = [...groups.values()].map((g): GroupFigures => {
    const outcomes = Object.fromEntries(Object.entries(g.outcomes).filter(([, n]) => n > 0));
    const probeErrors = outcomes.probe_error ?? 0;
    delete outcomes.probe_error;
    const attempts = Object.values(outcomes).reduce((a, b) => a + b, 0);
    const nonRedirected = attempts - (outcomes.redirected ?? 0);
    const effective = Object.entries(outcomes)
      .filter(([o]) => EFFECTIVE.has(o))
      .reduce((a, [, n]) => a + n, 0);
    const buckets = [...g.buckets];
    const srdCount = buckets.find(([le]) => le === Number.POSITIVE_INFINITY)?.[1] ?? 0;
    return {
      provider: g.provider,
      access: g.access,
      destination: g.destination,
      role: g.role,
      agents: [...g.agents].sort(),
      checks: g.checks.size,
      scheduled: g.scheduled,
      scheduledAnswered: g.scheduledAnswered,
      availabilityAttempts: ratio(g.scheduledAnswered, g.scheduled),
      availabilityTime: ratio(g.up, g.known),
      coverage: g.span > 0 ? g.known / g.span : 0,
      attempts,
      outcomes,
      probeErrors,
      ser: ratio(outcomes.answered ?? 0, nonRedirected),
      seer: ratio(effective, nonRedirected),
      isa: ratio(outcomes.network_failure ?? 0, attempts),
      srd: {
        count: srdCount,
        p50: histogramQuantile(0.5, buckets),
        p95: histogramQuantile(0.95, buckets),
        p99: histogramQuantile(0.99, buckets),
      },
      verificationFailures: { identity: g.identityFailures, media: g.mediaFailures },
    };
  });
  // Field by field: a joined key would let "kpn-b" sort between two groups of "kpn".
  const byFields =
    <T>(...fields: Array<(x: T) => string>) =>
    (a: T, b: T) => {
      for (const f of fields) {
        const c = f(a).localeCompare(f(b));
        if (c !== 0) return c;
      }
      return 0;
    };
  type Keyed = { provider: string; access: string; destination: string };
  const key = [(x: Keyed) => x.provider, (x: Keyed) => x.access, (x: Keyed) => x.destination];
  out.sort(byFields<Keyed>(...key));
  checks.sort(byFields<Keyed & { agent: string }>(...key, (x) => x.agent));
  return { groups: out, checks };
}
