import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, uniqueLoopback } from "../test/support/ports.js";
import { startSipp } from "../test/support/sipp.js";
import { parseCallOutput, runToEnd } from "./probe-cli.js";
import { note, progress } from "./progress.js";
import { round3, type Spread, spread } from "./stats.js";

/** GNU time, not the shell keyword: only it reports peak RSS. */
export const GNU_TIME = "/usr/bin/time";

/** Options for {@link runCallCost}. */
export interface CallCostOptions {
  readonly root: string;
  readonly runs: number;
  readonly ringMs: number;
  readonly answerMs: number;
  readonly holdSeconds: number;
}

/** Resource use of one `probe112 call` process as GNU time saw it. */
export interface CostSample {
  readonly userSeconds: number;
  readonly sysSeconds: number;
  readonly cpuSeconds: number;
  readonly peakRssKiB: number;
  readonly elapsedSeconds: number;
  readonly voluntaryContextSwitches: number;
  readonly involuntaryContextSwitches: number;
}

/** Median and maximum. */
export interface MedianMax {
  readonly median: number | null;
  readonly max: number | null;
}

/** What `bench/results/call-cost.json` holds (without the environment). */
export interface CallCostReport {
  readonly benchmark: "call-cost";
  readonly setup: {
    readonly runs: number;
    readonly command: string;
    readonly measuredWith: string;
    readonly ringMs: number;
    readonly answerMs: number;
    readonly holdSeconds: number;
    readonly note: string;
  };
  readonly measured: number;
  readonly answered: number;
  readonly cpuSeconds: MedianMax;
  readonly userSeconds: MedianMax;
  readonly sysSeconds: MedianMax;
  readonly peakRssMiB: MedianMax;
  readonly elapsedSeconds: MedianMax;
  readonly samples: ReadonlyArray<
    CostSample & { readonly exitCode: number | null; readonly outcome: string | null }
  >;
}

// A marker, because GNU time puts "Command exited with non-zero status N" before its line.
const FORMAT = "rusage %U %S %M %e %w %c";

/** Parses the line GNU time wrote with {@link FORMAT}. */
export function parseTimeOutput(text: string): CostSample | undefined {
  const line = text.split("\n").find((l) => l.startsWith("rusage "));
  const f = line?.split(/\s+/).slice(1).map(Number);
  if (!f || f.length < 6 || f.some((x) => !Number.isFinite(x))) return undefined;
  const [user, sys, rss, elapsed, voluntary, involuntary] = f as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return {
    userSeconds: user,
    sysSeconds: sys,
    cpuSeconds: round3(user + sys)!,
    peakRssKiB: rss,
    elapsedSeconds: elapsed,
    voluntaryContextSwitches: voluntary,
    involuntaryContextSwitches: involuntary,
  };
}

function medianMax(values: readonly number[], scale = 1): MedianMax {
  const s: Spread = spread(values.map((v) => v * scale));
  return { median: round3(s.median), max: round3(s.max) };
}

/** Runs `runs` sequential calls, each under GNU time, against SIPp on loopback. */
export async function runCallCost(o: CallCostOptions): Promise<CallCostReport> {
  const ip = uniqueLoopback();
  const port = await freePort("udp", ip);
  const sipp = startSipp({
    scenario: join(o.root, "test/fixtures/sipp/uas-answer.xml"),
    role: "uas",
    transport: "u1",
    ip,
    port,
    calls: o.runs,
    keys: { ring_ms: String(o.ringMs), answer_ms: String(o.answerMs) },
    timeoutS: 60 + o.runs * 10,
  });
  const dir = mkdtempSync(join(tmpdir(), "probe112-bench-cost-"));
  const target = `sip:112@${ip}:${port}`;
  const samples: Array<CostSample & { exitCode: number | null; outcome: string | null }> = [];
  try {
    await sipp.ready;
    for (let i = 1; i <= o.runs; i++) {
      progress(`call cost: run ${i}/${o.runs} …`);
      const out = join(dir, `run-${i}.txt`);
      const exit = await runToEnd(
        GNU_TIME,
        [
          "-f",
          FORMAT,
          "-o",
          out,
          process.execPath,
          join(o.root, "bin/probe112.js"),
          "call",
          target,
          "--json",
          "--hold",
          String(o.holdSeconds),
        ],
        30_000,
      );
      const call = parseCallOutput(exit);
      let sample: CostSample | undefined;
      try {
        sample = parseTimeOutput(readFileSync(out, "utf8"));
      } catch {
        sample = undefined;
      }
      if (!sample) {
        note(`call cost: run ${i}/${o.runs}: no measurement from ${GNU_TIME} (exit ${exit.code})`);
        continue;
      }
      if (call.json?.outcome !== "answered")
        note(`call cost: run ${i}/${o.runs} ended ${call.json?.outcome ?? call.error}`);
      samples.push({ ...sample, exitCode: exit.code, outcome: call.json?.outcome ?? null });
    }
  } finally {
    await sipp.stop(2000);
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    benchmark: "call-cost",
    setup: {
      runs: o.runs,
      command: `probe112 call ${target} --json --hold ${o.holdSeconds}`,
      measuredWith: `${GNU_TIME} -f '${FORMAT}'`,
      ringMs: o.ringMs,
      answerMs: o.answerMs,
      holdSeconds: o.holdSeconds,
      note: "CPU is user+sys of the whole node process (start-up included), which GNU time reports in 10 ms steps; RSS is the peak resident set.",
    },
    measured: samples.length,
    answered: samples.filter((s) => s.outcome === "answered").length,
    cpuSeconds: medianMax(samples.map((s) => s.cpuSeconds)),
    userSeconds: medianMax(samples.map((s) => s.userSeconds)),
    sysSeconds: medianMax(samples.map((s) => s.sysSeconds)),
    peakRssMiB: medianMax(
      samples.map((s) => s.peakRssKiB),
      1 / 1024,
    ),
    elapsedSeconds: medianMax(samples.map((s) => s.elapsedSeconds)),
    samples,
  };
}

/** One line for the terminal. */
export function formatCostSummary(r: CallCostReport): string {
  const f = (m: MedianMax, digits: number) =>
    m.median === null ? "–" : `${m.median.toFixed(digits)} (max ${m.max!.toFixed(digits)})`;
  return [
    `Call cost: ${r.measured}/${r.setup.runs} runs measured (median, max), hold ${r.setup.holdSeconds} s`,
    `  CPU user+sys ${f(r.cpuSeconds, 2)} s, peak RSS ${f(r.peakRssMiB, 1)} MiB, wall ${f(r.elapsedSeconds, 2)} s`,
  ].join("\n");
}
