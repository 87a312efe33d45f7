import { join } from "node:path";
import { freePort, uniqueLoopback } from "../test/support/ports.js";
import { type SippResult, type SippRun, startSipp } from "../test/support/sipp.js";
import { readSipPackets, startCapture } from "./capture.js";
import { type CallJson, type CallRun, parseCallOutput, runToEnd } from "./probe-cli.js";
import { note, progress } from "./progress.js";
import { round3, spread } from "./stats.js";
import {
  messageLabel,
  secondsBetween,
  TIMING_NAMES,
  type TimingName,
  type Timings,
  type WirePacket,
  wireTimings,
} from "./wire-timings.js";

/** The accuracy the project requires of every reported interval, against the wire. */
export const GOAL = { medianMs: 0.5, maxMs: 2 } as const;

/** Options for {@link runTimingAccuracy}. */
export interface TimingAccuracyOptions {
  /** Repository directory (holds bin/ and test/fixtures/). */
  readonly root: string;
  readonly calls: number;
  readonly ringMs: number;
  readonly answerMs: number;
  readonly holdSeconds: number;
  /** Where the capture file goes. */
  readonly captureFile: string;
}

/** How far the probe's numbers are from the wire's, in milliseconds. */
export interface ErrorStats {
  readonly count: number;
  readonly medianMs: number | null;
  readonly p95Ms: number | null;
  readonly maxMs: number | null;
  /** Median of probe − wire: positive means the probe reports the interval as longer. */
  readonly medianSignedMs: number | null;
  readonly met: boolean;
}

/** Where a message was stamped relative to the wire, in ms: probe − capture, both from the first INVITE. */
export interface OffsetStats {
  readonly count: number;
  readonly minMs: number | null;
  readonly medianMs: number | null;
  readonly p95Ms: number | null;
  readonly maxMs: number | null;
}

/** One call of the benchmark. */
export interface CallComparison {
  readonly index: number;
  readonly callId: string | null;
  readonly exitCode: number | null;
  readonly outcome: string | null;
  readonly error?: string;
  readonly probe: Timings | null;
  readonly wire: Timings | null;
  /** probe − wire per interval, ms. */
  readonly errorMs: Partial<Record<TimingName, number>>;
}

/** What `bench/results/timing-accuracy.json` holds (without the environment). */
export interface TimingAccuracyReport {
  readonly benchmark: "timing-accuracy";
  readonly goal: { readonly medianMs: number; readonly maxMs: number; readonly met: boolean };
  readonly setup: {
    readonly calls: number;
    readonly command: string;
    readonly farEnd: string;
    readonly ringMs: number;
    readonly answerMs: number;
    readonly holdSeconds: number;
    readonly capture: {
      readonly file: string;
      readonly interface: string;
      readonly filter: string;
      readonly timestampResolution: string;
    };
  };
  readonly calls: {
    readonly run: number;
    readonly answered: number;
    readonly compared: number;
    readonly failed: number;
    /** Calls with a report but no packets under their Call-ID in the capture. */
    readonly notCaptured: number;
  };
  readonly sipp: { readonly exitCode: number | null; readonly signal: string | null };
  readonly timings: Record<TimingName, ErrorStats>;
  readonly overall: ErrorStats;
  /** Diagnostics: per message, how late (positive) the probe's timestamp is against the capture. */
  readonly messageOffsets: Record<string, OffsetStats>;
  readonly perCall: readonly CallComparison[];
}

const CALL_TIMEOUT_MS = 30_000;

function errorStats(signed: readonly number[]): ErrorStats {
  const abs = spread(signed.map(Math.abs));
  const bias = spread(signed);
  return {
    count: abs.count,
    medianMs: round3(abs.median),
    p95Ms: round3(abs.p95),
    maxMs: round3(abs.max),
    medianSignedMs: round3(bias.median),
    met: abs.count > 0 && abs.median! < GOAL.medianMs && abs.max! < GOAL.maxMs,
  };
}

function offsetStats(values: readonly number[]): OffsetStats {
  const s = spread(values);
  return {
    count: s.count,
    minMs: values.length > 0 ? round3(Math.min(...values)) : null,
    medianMs: round3(s.median),
    p95Ms: round3(s.p95),
    maxMs: round3(s.max),
  };
}

/** Pairs each message of the probe's trace with the same message in the capture (n-th copy with n-th copy). */
function messageOffsets(json: CallJson, packets: readonly WirePacket[], into: Map<string, number[]>): void {
  const firstInvite = packets.find((p) => p.direction === "sent" && p.method === "INVITE");
  if (!firstInvite) return;
  const wireByLabel = new Map<string, WirePacket[]>();
  for (const p of packets) {
    const label = messageLabel(p);
    wireByLabel.set(label, [...(wireByLabel.get(label) ?? []), p]);
  }
  const seen = new Map<string, number>();
  for (const e of json.trace) {
    if (e.callId !== json.callId || e.dropped !== undefined) continue;
    const label = messageLabel(e);
    const n = seen.get(label) ?? 0;
    seen.set(label, n + 1);
    const wire = wireByLabel.get(label)?.[n];
    if (!wire) continue;
    const offset = e.t * 1000 - secondsBetween(firstInvite.atNs, wire.atNs) * 1000;
    into.set(label, [...(into.get(label) ?? []), offset]);
  }
}

/** Fractional digits the capture really carries: microsecond captures end every timestamp in 000. */
function timestampResolution(packets: readonly WirePacket[]): string {
  if (packets.length === 0) return "unknown";
  return packets.every((p) => p.atNs % 1000n === 0n) ? "microseconds" : "nanoseconds";
}

async function sippFinished(sipp: SippRun, graceMs: number): Promise<SippResult> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    sipp.exit,
    new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), graceMs);
    }),
  ]);
  clearTimeout(timer);
  // SIPp exits by itself after its -m calls; one left waiting means a call went wrong.
  return done ?? sipp.stop();
}

/**
 * Places `calls` sequential `probe112 call --json` processes against SIPp while tshark
 * captures the far end's port, then compares every reported interval with the capture.
 */
export async function runTimingAccuracy(o: TimingAccuracyOptions): Promise<TimingAccuracyReport> {
  const ip = uniqueLoopback();
  const port = await freePort("udp", ip);
  const filter = `udp and host ${ip} and port ${port}`;
  const sipp = startSipp({
    scenario: join(o.root, "test/fixtures/sipp/uas-answer.xml"),
    role: "uas",
    transport: "u1",
    ip,
    port,
    calls: o.calls,
    keys: { ring_ms: String(o.ringMs), answer_ms: String(o.answerMs) },
    timeoutS: 60 + o.calls * 10,
  });
  let capture: Awaited<ReturnType<typeof startCapture>>;
  try {
    await sipp.ready;
    capture = await startCapture({ iface: "lo", filter, file: o.captureFile });
  } catch (e) {
    await sipp.stop(500);
    throw e;
  }

  const target = `sip:112@${ip}:${port}`;
  const cliArgs = [
    join(o.root, "bin/probe112.js"),
    "call",
    target,
    "--json",
    "--hold",
    String(o.holdSeconds),
  ];
  const runs: CallRun[] = [];
  for (let i = 1; i <= o.calls; i++) {
    progress(`timing accuracy: call ${i}/${o.calls} …`);
    const exit = await runToEnd(process.execPath, cliArgs, CALL_TIMEOUT_MS);
    const run = parseCallOutput(exit);
    runs.push(run);
    if (run.error) note(`timing accuracy: call ${i}/${o.calls} gave no report: ${run.error}`);
    else if (run.json?.outcome !== "answered")
      note(`timing accuracy: call ${i}/${o.calls} ended ${run.json?.outcome}`);
  }
  progress("timing accuracy: stopping the capture …");
  const captureError = await capture.stop().then(
    () => undefined,
    (e: Error) => e,
  );
  const sippResult = await sippFinished(sipp, 5000);
  if (captureError) throw captureError;

  progress("timing accuracy: reading the capture …");
  const packets = await readSipPackets(o.captureFile, port);
  const byCall = new Map<string, WirePacket[]>();
  for (const p of packets) byCall.set(p.callId, [...(byCall.get(p.callId) ?? []), p]);

  const signed = Object.fromEntries(TIMING_NAMES.map((n) => [n, [] as number[]])) as Record<
    TimingName,
    number[]
  >;
  const offsets = new Map<string, number[]>();
  const perCall: CallComparison[] = [];
  let notCaptured = 0;
  runs.forEach((run, i) => {
    const json = run.json;
    const wirePackets = json?.callId ? (byCall.get(json.callId) ?? []) : [];
    if (json && wirePackets.length === 0) notCaptured++;
    const wire = wirePackets.length > 0 ? wireTimings(wirePackets) : null;
    const errorMs: Partial<Record<TimingName, number>> = {};
    if (json && wire) {
      for (const name of TIMING_NAMES) {
        const p = json.timings[name];
        const w = wire[name];
        if (typeof p !== "number" || w === null) continue;
        const err = (p - w) * 1000;
        signed[name].push(err);
        errorMs[name] = round3(err)!;
      }
      messageOffsets(json, wirePackets, offsets);
    }
    perCall.push({
      index: i + 1,
      callId: json?.callId ?? null,
      exitCode: run.exit.code,
      outcome: json?.outcome ?? null,
      ...(run.error ? { error: run.error } : {}),
      probe: json ? pickTimings(json.timings) : null,
      wire: wire ? roundTimings(wire) : null,
      errorMs,
    });
  });

  const timings = Object.fromEntries(TIMING_NAMES.map((n) => [n, errorStats(signed[n])])) as Record<
    TimingName,
    ErrorStats
  >;
  const overall = errorStats(TIMING_NAMES.flatMap((n) => signed[n]));
  const met = overall.met && TIMING_NAMES.every((n) => timings[n].met);
  return {
    benchmark: "timing-accuracy",
    goal: { ...GOAL, met },
    setup: {
      calls: o.calls,
      command: `probe112 call ${target} --json --hold ${o.holdSeconds}`,
      farEnd: `SIPp uas-answer over UDP on ${ip}:${port}`,
      ringMs: o.ringMs,
      answerMs: o.answerMs,
      holdSeconds: o.holdSeconds,
      capture: {
        file: o.captureFile,
        interface: "lo",
        filter,
        timestampResolution: timestampResolution(packets),
      },
    },
    calls: {
      run: runs.length,
      answered: runs.filter((r) => r.json?.outcome === "answered").length,
      compared: perCall.filter((c) => Object.keys(c.errorMs).length > 0).length,
      failed: runs.filter((r) => r.error !== undefined).length,
      notCaptured,
    },
    sipp: { exitCode: sippResult.code, signal: sippResult.signal },
    timings,
    overall,
    messageOffsets: Object.fromEntries([...offsets].map(([label, v]) => [label, offsetStats(v)])),
    perCall,
  };
}

function pickTimings(t: Timings): Timings {
  return Object.fromEntries(TIMING_NAMES.map((n) => [n, t[n] ?? null])) as Timings;
}

function roundTimings(t: Timings): Timings {
  return Object.fromEntries(
    TIMING_NAMES.map((n) => [n, t[n] === null ? null : Math.round(t[n] * 1e6) / 1e6]),
  ) as Timings;
}

/** A few lines for the terminal. */
export function formatTimingSummary(r: TimingAccuracyReport): string {
  const pad = (s: string, n: number) => s.padStart(n);
  const num = (x: number | null) => (x === null ? "–" : x.toFixed(3));
  const row = (name: string, s: ErrorStats) =>
    `  ${name.padEnd(14)}${pad(String(s.count), 6)}${pad(num(s.medianMs), 10)}${pad(num(s.p95Ms), 10)}${pad(num(s.maxMs), 10)}${pad(num(s.medianSignedMs), 10)}   ${s.met ? "met" : "MISSED"}`;
  const lines = [
    `Timing accuracy: ${r.calls.compared}/${r.calls.run} calls compared with the capture (goal: median < ${r.goal.medianMs} ms, max < ${r.goal.maxMs} ms)`,
    `  ${"|probe − wire|".padEnd(14)}${pad("n", 6)}${pad("median", 10)}${pad("p95", 10)}${pad("max", 10)}${pad("bias", 10)}   (ms)`,
    ...TIMING_NAMES.map((n) => row(n, r.timings[n])),
    row("overall", r.overall),
    `  where the probe stamps each message against the wire (ms, median / max, relative to the first INVITE):`,
    ...Object.entries(r.messageOffsets).map(
      ([label, s]) => `    ${label.padEnd(14)}${pad(num(s.medianMs), 9)} /${pad(num(s.maxMs), 8)}`,
    ),
  ];
  if (r.calls.failed > 0 || r.calls.notCaptured > 0 || r.calls.answered < r.calls.run)
    lines.push(
      `  ${r.calls.answered} answered, ${r.calls.failed} without a report, ${r.calls.notCaptured} not in the capture`,
    );
  return lines.join("\n");
}
