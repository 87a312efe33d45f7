import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { destroyAllNetns } from "../test/support/netns.js";
import { killAll } from "../test/support/process.js";
import { type AgentBenchReport, formatAgentSummary, runAgentBench } from "./agent.js";
import { type AlertingBenchReport, formatAlertingSummary, runAlertingBench } from "./alerting.js";
import { type CallCostReport, formatCostSummary, GNU_TIME, runCallCost } from "./call-cost.js";
import { type Environment, environmentInfo } from "./environment.js";
import { note } from "./progress.js";
import { formatRtpStreamsSummary, type RtpStreamsReport, runRtpStreams } from "./rtp-streams.js";
import { formatTimingSummary, runTimingAccuracy, type TimingAccuracyReport } from "./timing-accuracy.js";

const BENCHMARKS = ["timing-accuracy", "call-cost", "rtp-streams", "agent", "alerting"] as const;
type BenchmarkName = (typeof BENCHMARKS)[number];

const USAGE = `Usage: npm run bench -- [--only NAME,…] [--calls N] [--cost-runs N] [--ring-ms MS] [--answer-ms MS] [--hold S]
                          [--streams N,…] [--stream-seconds S]
                          [--agent-paths N] [--agent-interval S] [--agent-seconds S] [--agent-media echo|none]
                          [--alerting-trials N] [--alerting-chain-trials N] [--alerting-loss-seconds S] [--alerting-scale K]
  --only            run only these benchmarks: ${BENCHMARKS.join(", ")} (default all)
  --calls           sequential calls for the timing-accuracy benchmark (default 50)
  --cost-runs       calls measured with ${GNU_TIME} for the call-cost benchmark (default 10)
  --ring-ms         SIPp's delay before 180 Ringing (default 100)
  --answer-ms       SIPp's further delay before 200 OK (default 200)
  --hold            seconds each call is held (default 0.2)
  --streams         concurrent RTP streams per run of the rtp-streams benchmark (default 1,50,200)
  --stream-seconds  measured seconds per rtp-streams run, after 2 s of warm-up (default 10)
  --agent-paths     paths of the agent benchmark, each probed to 3 destinations (default 50)
  --agent-interval  seconds between the calls of each check in the agent benchmark (default 10)
  --agent-seconds   measured seconds of the agent benchmark, after two intervals of warm-up (default 120)
  --agent-media     media of the agent benchmark's calls: echo (SIPp -rtp_echo) or none (default echo)
  --alerting-trials        blackhole trials of one path each (Probe112PathDown) in the alerting benchmark (default 8)
  --alerting-chain-trials  blackhole trials of every path at once (Probe112ChainDown) (default 3)
  --alerting-loss-seconds  seconds of 2 % random loss on every path, counting false pages (default 180)
  --alerting-scale         the alerting benchmark runs this many times faster than the shipped intervals,
                           timeouts and durations, and scales its times back (default 2; 1 runs them as shipped;
                           above 2 the scaled 10 s call timeout gets shorter than a call of ~4 s)`;

/** The checkout: compiled, this file runs from bench/build/bench/, so look upwards. */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "bin/probe112.js")) && existsSync(join(dir, "package.json"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the repository (bin/probe112.js) above the benchmark");
    dir = up;
  }
}

function onPath(command: string): boolean {
  const candidates = command.includes("/")
    ? [command]
    : (process.env.PATH ?? "").split(delimiter).map((d) => join(d, command));
  return candidates.some((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function count(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${value}`);
  return n;
}

/** Writes a result with the environment; the load when it ended tells whether other work competed for the CPU. */
function writeResult(path: string, report: object, environment: Environment): void {
  const loadAverageAfter = loadavg().map((l) => Math.round(l * 100) / 100);
  writeFileSync(
    path,
    `${JSON.stringify({ ...report, environment: { ...environment, loadAverageAfter } }, null, 2)}\n`,
  );
}

async function main(): Promise<number> {
  let options: ReturnType<typeof readOptions>;
  try {
    options = readOptions();
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const root = repositoryRoot();
  const selected = (name: BenchmarkName) => options.only.includes(name);
  // The SIP benchmarks run the built CLI against SIPp; the RTP one runs sessions in-process.
  if (selected("timing-accuracy") || selected("call-cost")) {
    const missing = ["sipp", "tshark", GNU_TIME].filter((c) => !onPath(c));
    if (missing.length > 0) {
      process.stderr.write(`bench: missing ${missing.join(", ")}: run ./scripts/install-deps\n`);
      return 1;
    }
    if (!existsSync(join(root, "dist/cli/main.js"))) {
      process.stderr.write("bench: dist/ is missing: run npm run build (npm run bench does)\n");
      return 1;
    }
  }
  if (selected("agent")) {
    if (!onPath("sipp")) {
      process.stderr.write("bench: missing sipp: run ./scripts/install-deps\n");
      return 1;
    }
    if (!existsSync(join(root, "dist/cli/main.js"))) {
      process.stderr.write("bench: dist/ is missing: run npm run build (npm run bench does)\n");
      return 1;
    }
  }
  if (selected("alerting")) {
    const missing = ["prometheus", "prometheus-alertmanager", "iptables", "ip"].filter((c) => !onPath(c));
    if (missing.length > 0) {
      process.stderr.write(`bench: missing ${missing.join(", ")}: run ./scripts/install-deps\n`);
      return 1;
    }
    if (process.getuid?.() !== 0) {
      process.stderr.write("bench: the alerting benchmark needs root (network namespaces, iptables)\n");
      return 1;
    }
    if (!existsSync(join(root, "dist/cli/main.js"))) {
      process.stderr.write("bench: dist/ is missing: run npm run build (npm run bench does)\n");
      return 1;
    }
  }
  const resultsDir = join(root, "bench/results");
  mkdirSync(resultsDir, { recursive: true });
  const environment = environmentInfo(root);
  let failed = false;

  let timing: TimingAccuracyReport | undefined;
  if (selected("timing-accuracy"))
    try {
      timing = await runTimingAccuracy({
        root,
        calls: options.calls,
        ringMs: options.ringMs,
        answerMs: options.answerMs,
        holdSeconds: options.hold,
        captureFile: join(resultsDir, "timing-accuracy.pcapng"),
      });
      writeResult(join(resultsDir, "timing-accuracy.json"), timing, environment);
      if (timing.calls.compared === 0) {
        note("bench: timing accuracy: no call could be compared with the capture");
        failed = true;
      }
    } catch (e) {
      note(`bench: timing accuracy could not run: ${(e as Error).message}`);
      failed = true;
    }

  let cost: CallCostReport | undefined;
  if (selected("call-cost"))
    try {
      cost = await runCallCost({
        root,
        runs: options.costRuns,
        ringMs: options.ringMs,
        answerMs: options.answerMs,
        holdSeconds: options.hold,
      });
      writeResult(join(resultsDir, "call-cost.json"), cost, environment);
      if (cost.measured === 0) {
        note("bench: call cost: no run was measured");
        failed = true;
      }
    } catch (e) {
      note(`bench: call cost could not run: ${(e as Error).message}`);
      failed = true;
    }

  let streams: RtpStreamsReport | undefined;
  if (selected("rtp-streams"))
    try {
      streams = await runRtpStreams({
        streams: options.streams,
        warmupSeconds: 2,
        measureSeconds: options.streamSeconds,
      });
      writeResult(join(resultsDir, "rtp-streams.json"), streams, environment);
    } catch (e) {
      note(`bench: rtp streams could not run: ${(e as Error).message}`);
      failed = true;
    }

  let agent: AgentBenchReport | undefined;
  if (selected("agent"))
    try {
      agent = await runAgentBench({
        root,
        paths: options.agentPaths,
        destinations: 3,
        intervalSeconds: options.agentInterval,
        measureSeconds: options.agentSeconds,
        holdSeconds: 1,
        media: options.agentMedia,
      });
      writeResult(join(resultsDir, "agent.json"), agent, environment);
      if (agent.window.calls === 0) {
        note("bench: agent: no call was placed in the measured window");
        failed = true;
      }
    } catch (e) {
      note(`bench: agent could not run: ${(e as Error).message}`);
      failed = true;
    }

  let alerting: AlertingBenchReport | undefined;
  if (selected("alerting"))
    try {
      alerting = await runAlertingBench({
        root,
        timeScale: options.alertingScale,
        trials: options.alertingTrials,
        chainTrials: options.alertingChainTrials,
        lossSeconds: options.alertingLossSeconds,
        lossProbability: 0.02,
      });
      writeResult(join(resultsDir, "alerting.json"), alerting, environment);
      if (alerting.pathDown.measured.count === 0 && options.alertingTrials > 0) {
        note("bench: alerting: no blackhole trial paged");
        failed = true;
      }
    } catch (e) {
      note(`bench: alerting could not run: ${(e as Error).message}`);
      failed = true;
    }

  note("");
  const env = `node ${environment.node}, ${environment.cpuModel} ×${environment.cpuCount}, load ${environment.loadAverage.join(" ")}, commit ${environment.gitCommit?.slice(0, 12) ?? "unknown"}${environment.gitDirty ? " (modified)" : ""}`;
  const out: string[] = [env];
  if (timing) out.push("", formatTimingSummary(timing));
  if (cost) out.push("", formatCostSummary(cost));
  if (streams) out.push("", formatRtpStreamsSummary(streams));
  if (agent) out.push("", formatAgentSummary(agent));
  if (alerting) out.push("", formatAlertingSummary(alerting));
  const files = [
    ...(timing ? ["timing-accuracy.json", "timing-accuracy.pcapng"] : []),
    ...(cost ? ["call-cost.json"] : []),
    ...(streams ? ["rtp-streams.json"] : []),
    ...(agent ? ["agent.json"] : []),
    ...(alerting ? ["alerting.json"] : []),
  ];
  out.push("", files.length ? `Results in ${resultsDir}/ (${files.join(", ")})` : "No results written.");
  process.stdout.write(`${out.join("\n")}\n`);
  return failed ? 1 : 0;
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      calls: { type: "string" },
      "cost-runs": { type: "string" },
      "ring-ms": { type: "string" },
      "answer-ms": { type: "string" },
      hold: { type: "string" },
      streams: { type: "string" },
      "stream-seconds": { type: "string" },
      "agent-paths": { type: "string" },
      "agent-interval": { type: "string" },
      "agent-seconds": { type: "string" },
      "agent-media": { type: "string" },
      "alerting-trials": { type: "string" },
      "alerting-chain-trials": { type: "string" },
      "alerting-loss-seconds": { type: "string" },
      "alerting-scale": { type: "string" },
    },
    strict: true,
  });
  const only = (values.only ?? BENCHMARKS.join(",")).split(",").map((s) => s.trim());
  for (const name of only)
    if (!(BENCHMARKS as readonly string[]).includes(name))
      throw new Error(`--only takes ${BENCHMARKS.join(", ")}; got ${name}`);
  const streams = (values.streams ?? "1,50,200").split(",").map((s) => Math.round(count("streams", s, 1, 1)));
  return {
    only: only as BenchmarkName[],
    streams,
    streamSeconds: count("stream-seconds", values["stream-seconds"], 10, 1),
    calls: Math.round(count("calls", values.calls, 50, 1)),
    costRuns: Math.round(count("cost-runs", values["cost-runs"], 10, 1)),
    ringMs: count("ring-ms", values["ring-ms"], 100, 0),
    answerMs: count("answer-ms", values["answer-ms"], 200, 0),
    hold: count("hold", values.hold, 0.2, 0),
    agentPaths: Math.round(count("agent-paths", values["agent-paths"], 50, 1)),
    agentInterval: count("agent-interval", values["agent-interval"], 10, 1),
    agentSeconds: count("agent-seconds", values["agent-seconds"], 120, 10),
    agentMedia: agentMedia(values["agent-media"]),
    alertingTrials: Math.round(count("alerting-trials", values["alerting-trials"], 8, 0)),
    alertingChainTrials: Math.round(count("alerting-chain-trials", values["alerting-chain-trials"], 3, 0)),
    alertingLossSeconds: count("alerting-loss-seconds", values["alerting-loss-seconds"], 180, 10),
    alertingScale: count("alerting-scale", values["alerting-scale"], 2, 1),
  };
}

function agentMedia(value: string | undefined): "echo" | "none" {
  if (value === undefined || value === "echo" || value === "none") return value ?? "echo";
  throw new Error(`--agent-media takes echo or none; got ${value}`);
}

// SIPp and tshark run in their own process groups, so an interrupted benchmark must stop them itself.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    note(`bench: ${signal}, stopping SIPp, tshark, Prometheus, Alertmanager and network namespaces`);
    void killAll("SIGTERM", 1000)
      .then(() => destroyAllNetns())
      .finally(() => process.exit(130));
  });
}

process.exitCode = await main();
// SIGINT/SIGTERM handlers and child handles must not keep a finished benchmark alive.
process.exit();
