import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freeMediaPort, freePort, uniqueLoopback } from "../test/support/ports.js";
import { type ManagedProcess, spawnManaged, tail } from "../test/support/process.js";
import { metricSum } from "../test/support/responder.js";
import { removeSippDir, startSipp } from "../test/support/sipp.js";
import { note, progress } from "./progress.js";
import { round3 } from "./stats.js";

/** Options for {@link runAgentBench}. */
export interface AgentBenchOptions {
  readonly root: string;
  readonly paths: number;
  readonly destinations: number;
  readonly intervalSeconds: number;
  /** Measured seconds, after a warm-up of two intervals (start-up spread plus one full round). */
  readonly measureSeconds: number;
  readonly holdSeconds: number;
  readonly media: "echo" | "none";
}

/** A latency distribution estimated from Prometheus histogram buckets, seconds. */
export interface BucketQuantiles {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  /** Upper bound of the highest bucket with an observation (`+Inf` when past the last bound). */
  readonly maxBucket: string | null;
  /** Observations per bucket over the window (not cumulative), lowest bound first. */
  readonly buckets: ReadonlyArray<{ readonly le: string; readonly count: number }>;
}

/** What `bench/results/agent.json` holds (without the environment). */
export interface AgentBenchReport {
  readonly benchmark: "agent";
  readonly setup: {
    readonly checks: number;
    readonly paths: number;
    readonly destinations: number;
    readonly intervalSeconds: number;
    readonly callsPerMinuteScheduled: number;
    readonly maxCallsPerMinute: number;
    readonly holdSeconds: number;
    readonly media: string;
    readonly warmupSeconds: number;
    readonly measureSeconds: number;
    readonly farEnd: string;
    readonly note: string;
  };
  readonly window: {
    readonly seconds: number;
    readonly calls: number;
    readonly callsPerSecond: number;
    readonly outcomes: Readonly<Record<string, number>>;
    readonly skipped: Readonly<Record<string, number>>;
    readonly journalErrors: number;
  };
  /** probe112_scheduler_lag_seconds over the window. */
  readonly schedulerLagSeconds: BucketQuantiles;
  /** prom-client's event-loop delay gauges, sampled every scrape (each covers the time since the last). */
  readonly eventLoopLagSeconds: { readonly p99Max: number | null; readonly maxMax: number | null };
  readonly cpu: {
    readonly userSeconds: number;
    readonly sysSeconds: number;
    /** user+sys over the window's wall time, in % of one core. */
    readonly percentOfOneCore: number;
    readonly millisecondsPerCall: number | null;
  };
  readonly memory: {
    /** VmHWM at the end: the peak resident set over the whole run, warm-up included. */
    readonly peakRssMiB: number;
    readonly rssMiBAtStart: number;
    readonly rssMiBAtEnd: number;
  };
  readonly journalBytes: number;
  readonly shutdownSeconds: number;
  readonly exitCode: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** CPU ticks (user, sys) of a process from /proc/PID/stat. */
function cpuTicks(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]), sys: Number(fields[12]) };
}

function statusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

function clockTicksPerSecond(): number {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}

/** Cumulative bucket counts of an unlabelled histogram, by `le`. */
function histogramBuckets(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, "gm")))
    out.set(m[1]!, Number(m[2]));
  return out;
}

/**
 * Quantiles the way histogram_quantile() estimates them: linear inside the bucket that holds the
 * rank, from the difference of two cumulative snapshots.
 */
export function bucketQuantiles(before: Map<string, number>, after: Map<string, number>): BucketQuantiles {
  const bounds = [...after.keys()].sort(
    (a, b) => (a === "+Inf" ? Infinity : Number(a)) - (b === "+Inf" ? Infinity : Number(b)),
  );
  const cumulative = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const count = cumulative.at(-1) ?? 0;
  const buckets = bounds.map((le, i) => ({ le, count: cumulative[i]! - (i > 0 ? cumulative[i - 1]! : 0) }));
  const q = (p: number): number | null => {
    if (count === 0) return null;
    const rank = p * count;
    for (let i = 0; i < bounds.length; i++) {
      if (cumulative[i]! >= rank) {
        const upper = bounds[i] === "+Inf" ? Number(bounds[i - 1] ?? 0) : Number(bounds[i]);
        if (bounds[i] === "+Inf") return upper;
        const lower = i > 0 ? Number(bounds[i - 1]) : 0;
        const below = i > 0 ? cumulative[i - 1]! : 0;
        const inBucket = cumulative[i]! - below;
        return inBucket === 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
      }
    }
    return null;
  };
  const highest = [...buckets].reverse().find((b) => b.count > 0)?.le ?? null;
  return { count, p50: round3(q(0.5)), p99: round3(q(0.99)), maxBucket: highest, buckets };
}

/** Sums of `probe112_call_attempts_total` by one label. */
function sumsBy(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{(.*)\\} (\\S+)$`, "gm"))) {
    const value = new RegExp(`${label}="([^"]*)"`).exec(m[1]!)?.[1];
    if (value !== undefined) out.set(value, (out.get(value) ?? 0) + Number(m[2]));
  }
  return out;
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

function dirBytes(dir: string): number {
  try {
    return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  } catch {
    return 0;
  }
}

/**
 * One agent process with paths × destinations checks at a short interval against a SIPp UAS that
 * answers every call and echoes its RTP: how late the scheduler starts runs, and what the agent
 * costs in CPU and memory while it does.
 */
export async function runAgentBench(o: AgentBenchOptions): Promise<AgentBenchReport> {
  const ip = uniqueLoopback();
  const sipPort = await freePort("udp", ip);
  const mediaPort = await freeMediaPort(ip);
  const httpPort = await freePort("tcp", ip);
  const checks = o.paths * o.destinations;
  const perMinute = Math.ceil((checks * 60) / o.intervalSeconds);
  // The configuration refuses more than 600 calls per minute: past that, runs are skipped (call_cap).
  const cap = Math.min(600, perMinute);
  const warmupSeconds = 2 * o.intervalSeconds;
  const dir = mkdtempSync(join(tmpdir(), "probe112-bench-agent-"));
  const journalDir = join(dir, "journal");
  const sipp = startSipp({
    scenario: join(o.root, "test/fixtures/sipp/uas-answer.xml"),
    role: "uas",
    transport: "u1",
    ip,
    port: sipPort,
    calls: 10_000_000,
    keys: { ring_ms: "50", answer_ms: "50" },
    timeoutS: warmupSeconds + o.measureSeconds + 300,
    extraArgs: ["-rtp_echo", "-mp", String(mediaPort)],
  });
  const numbers = ["112", "09008844", "0881234567", "0900000000", "0880000000"];
  const config = {
    agent: {
      id: "bench-agent",
      operator: "bench",
      region: "loopback",
      http: { listen: `${ip}:${httpPort}` },
      journalDir,
      maxCallsPerMinute: cap,
    },
    providers: [{ id: "bench-provider" }],
    paths: Array.from({ length: o.paths }, (_, i) => ({
      id: `path-${String(i + 1).padStart(2, "0")}`,
      number: i % 100,
      provider: "bench-provider",
      access: "voip",
      transport: "udp",
      localAddress: ip,
    })),
    destinations: Array.from({ length: o.destinations }, (_, i) => ({
      id: `dest-${i + 1}`,
      uri: `sip:${numbers[i % numbers.length]}@${ip}:${sipPort}`,
      role: i === 0 ? "test112" : "other",
    })),
    checks: [
      {
        paths: Array.from({ length: o.paths }, (_, i) => `path-${String(i + 1).padStart(2, "0")}`),
        destinations: Array.from({ length: o.destinations }, (_, i) => `dest-${i + 1}`),
        interval: o.intervalSeconds,
        timeout: Math.max(o.holdSeconds + 5, Math.min(30, o.intervalSeconds)),
        hold: o.holdSeconds,
        media: o.media,
        confirmAfter: 2,
      },
    ],
  };
  const configFile = join(dir, "agent.yaml");
  writeFileSync(configFile, stringify(config));
  let agent: ManagedProcess | undefined;
  try {
    await sipp.ready;
    agent = spawnManaged(
      process.execPath,
      [join(o.root, "bin/probe112.js"), "agent", "--config", configFile, "--log-format", "json"],
      { name: "probe112 agent", maxOutputChars: 1024 * 1024 },
    );
    const url = `http://${ip}:${httpPort}`;
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    const deadline = Date.now() + 15_000;
    while (
      (await fetch(`${url}/-/ready`).then(
        (r) => r.status,
        () => 0,
      )) !== 200
    ) {
      if (!agent.running() || Date.now() > deadline)
        throw new Error(`the agent did not become ready; output:\n${tail(agent.output())}`);
      await sleep(100);
    }
    const pid = agent.pid!;
    for (let s = warmupSeconds; s > 0; s--) {
      progress(`agent: ${checks} checks every ${o.intervalSeconds} s, warming up ${s} s …`);
      await sleep(1000);
    }
    const hz = clockTicksPerSecond();
    const before = await scrape();
    const cpu0 = cpuTicks(pid);
    const t0 = performance.now();
    const rssStart = statusKiB(pid, "VmRSS");
    let p99Max: number | null = null;
    let maxMax: number | null = null;
    const sampleLoop = (text: string) => {
      const p99 = gauge(text, "nodejs_eventloop_lag_p99_seconds");
      const max = gauge(text, "nodejs_eventloop_lag_max_seconds");
      if (p99 !== undefined) p99Max = Math.max(p99Max ?? 0, p99);
      if (max !== undefined) maxMax = Math.max(maxMax ?? 0, max);
    };
    sampleLoop(before);
    const end = t0 + o.measureSeconds * 1000;
    while (performance.now() < end) {
      const left = Math.ceil((end - performance.now()) / 1000);
      progress(`agent: measuring, ${left} s left …`);
      await sleep(Math.min(5000, Math.max(0, end - performance.now())));
      if (!agent.running()) throw new Error(`the agent exited during the run:\n${tail(agent.output())}`);
      sampleLoop(await scrape());
    }
    const after = await scrape();
    const cpu1 = cpuTicks(pid);
    const seconds = (performance.now() - t0) / 1000;
    const rssEnd = statusKiB(pid, "VmRSS");
    const hwm = statusKiB(pid, "VmHWM");
    const outcomes = delta(
      sumsBy(before, "probe112_call_attempts_total", "outcome"),
      sumsBy(after, "probe112_call_attempts_total", "outcome"),
    );
    const skipped = delta(
      sumsBy(before, "probe112_runs_skipped_total", "reason"),
      sumsBy(after, "probe112_runs_skipped_total", "reason"),
    );
    const calls = Object.values(outcomes).reduce((a, b) => a + b, 0);
    const userSeconds = (cpu1.user - cpu0.user) / hz;
    const sysSeconds = (cpu1.sys - cpu0.sys) / hz;
    progress("agent: stopping …");
    const stopAt = performance.now();
    const exit = await agent.stop("SIGTERM", 30_000);
    const shutdownSeconds = (performance.now() - stopAt) / 1000;
    if (exit.code !== 0)
      note(`agent: exited ${exit.code ?? exit.signal}; log tail:\n${tail(exit.stderr, 10)}`);
    return {
      benchmark: "agent",
      setup: {
        checks,
        paths: o.paths,
        destinations: o.destinations,
        intervalSeconds: o.intervalSeconds,
        callsPerMinuteScheduled: perMinute,
        maxCallsPerMinute: cap,
        holdSeconds: o.holdSeconds,
        media: o.media,
        warmupSeconds,
        measureSeconds: o.measureSeconds,
        farEnd: "SIPp uas-answer (180 after 50 ms, 200 after 50 ms more) over UDP on loopback, -rtp_echo",
        note: "One `probe112 agent` process with a journal (fsync per result). CPU is user+sys from /proc/PID/stat over the window; scheduler lag from the probe112_scheduler_lag_seconds bucket deltas, interpolated as histogram_quantile() does.",
      },
      window: {
        seconds: round3(seconds)!,
        calls,
        callsPerSecond: round3(calls / seconds)!,
        outcomes,
        skipped,
        journalErrors:
          metricSum(after, "probe112_journal_write_errors_total") -
          metricSum(before, "probe112_journal_write_errors_total"),
      },
      schedulerLagSeconds: bucketQuantiles(
        histogramBuckets(before, "probe112_scheduler_lag_seconds"),
        histogramBuckets(after, "probe112_scheduler_lag_seconds"),
      ),
      eventLoopLagSeconds: { p99Max: round3(p99Max), maxMax: round3(maxMax) },
      cpu: {
        userSeconds: round3(userSeconds)!,
        sysSeconds: round3(sysSeconds)!,
        percentOfOneCore: Math.round(((userSeconds + sysSeconds) / seconds) * 1000) / 10,
        millisecondsPerCall: calls > 0 ? round3(((userSeconds + sysSeconds) * 1000) / calls) : null,
      },
      memory: {
        peakRssMiB: mib(hwm * 1024),
        rssMiBAtStart: mib(rssStart * 1024),
        rssMiBAtEnd: mib(rssEnd * 1024),
      },
      journalBytes: dirBytes(journalDir),
      shutdownSeconds: round3(shutdownSeconds)!,
      exitCode: exit.code,
    };
  } finally {
    await agent?.stop("SIGKILL", 1000);
    // SIPp fails the calls the agent CANCELs as it stops (uas-answer does not expect CANCEL) and
    // would keep its logs for post-mortem; nothing here needs them.
    removeSippDir(await sipp.stop(2000));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A few lines for the terminal. */
export function formatAgentSummary(r: AgentBenchReport): string {
  const ms = (s: number | null) => (s === null ? "–" : `${(s * 1000).toFixed(1)} ms`);
  const s = r.setup;
  const w = r.window;
  const skipped = Object.entries(w.skipped)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const outcomes = Object.entries(w.outcomes)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return [
    `Agent: ${s.checks} checks (${s.paths} paths × ${s.destinations} destinations) every ${s.intervalSeconds} s, media ${s.media}, hold ${s.holdSeconds} s, cap ${s.maxCallsPerMinute}/min (${s.callsPerMinuteScheduled}/min scheduled)`,
    `  ${w.seconds} s measured: ${w.calls} calls (${w.callsPerSecond}/s): ${outcomes || "none"}; skipped: ${skipped || "none"}`,
    `  scheduler lag p50 ${ms(r.schedulerLagSeconds.p50)}, p99 ${ms(r.schedulerLagSeconds.p99)} (${r.schedulerLagSeconds.count} runs, highest bucket ≤ ${r.schedulerLagSeconds.maxBucket ?? "–"} s); event loop p99 ≤ ${ms(r.eventLoopLagSeconds.p99Max)}, max ${ms(r.eventLoopLagSeconds.maxMax)}`,
    `  CPU ${r.cpu.percentOfOneCore} % of one core (user ${r.cpu.userSeconds} s + sys ${r.cpu.sysSeconds} s, ${r.cpu.millisecondsPerCall ?? "–"} ms per call), peak RSS ${r.memory.peakRssMiB} MiB (${r.memory.rssMiBAtStart} → ${r.memory.rssMiBAtEnd} MiB over the window)`,
    `  SIGTERM to exit ${r.shutdownSeconds} s (exit ${r.exitCode}), journal ${mib(r.journalBytes)} MiB`,
  ].join("\n");
}
