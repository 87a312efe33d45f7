import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { uniqueLoopback } from "../test/support/ports.js";
import { progress } from "./progress.js";
import type { HostCommand, HostMeasurement, HostReply, Percentiles, SessionSummary } from "./rtp-host.js";
import { quantile } from "./stats.js";

/** Options for {@link runRtpStreams}. */
export interface RtpStreamsOptions {
  /** Concurrent streams per run, e.g. 1, 50, 200. */
  readonly streams: readonly number[];
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
}

/** The probe side of one run: its process, and how its streams fared. */
export interface ProbeSide extends HostMeasurement {
  /** CPU % of one core divided by the number of streams. */
  readonly cpuPercentPerStream: number;
  /** CPU time per packet handled (sent + received), µs. */
  readonly cpuMicrosPerPacket: number | null;
  /**
   * How late the 20 ms send clock fired (RtpSession sendClock), across sessions: the spread of
   * the per-session medians and of the per-session maxima, ms.
   */
  readonly sendClock: { readonly medianLateMs: Percentiles; readonly maxLateMs: Percentiles };
  /** Share of marked frames that came back, lowest and median over sessions. */
  readonly returnedShare: { readonly min: number | null; readonly median: number | null };
  readonly rttMs: Percentiles;
  readonly jitterMs: Percentiles;
  readonly lost: number;
}

/** The mirror side of one run. */
export interface MirrorSide extends HostMeasurement {
  readonly cpuPercentPerStream: number;
  readonly cpuMicrosPerPacket: number | null;
  readonly lost: number;
}

export interface RtpStreamsRun {
  readonly streams: number;
  readonly probe: ProbeSide;
  readonly mirror: MirrorSide;
}

/** What `bench/results/rtp-streams.json` holds (without the environment). */
export interface RtpStreamsReport {
  readonly benchmark: "rtp-streams";
  readonly setup: {
    readonly streams: readonly number[];
    readonly warmupSeconds: number;
    readonly measureSeconds: number;
    readonly topology: string;
    readonly note: string;
  };
  readonly runs: readonly RtpStreamsRun[];
  /**
   * CPU % of one core each additional stream costs, from the two largest runs (the fixed cost
   * of a process, its timers and the delay monitor cancels out).
   */
  readonly marginalCpuPercentPerStream: { readonly probe: number | null; readonly mirror: number | null };
}

const HOST = fileURLToPath(new URL("./rtp-host.js", import.meta.url));

/** A host process and a way to wait for its next reply. */
class Host {
  private readonly child: ChildProcess;
  private readonly replies: HostReply[] = [];
  private waiting: ((r: HostReply) => void) | undefined;
  private exitError: Error | undefined;

  constructor(readonly name: string) {
    this.child = fork(HOST, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (m: HostReply) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(m);
      } else this.replies.push(m);
    });
    this.child.once("exit", (code, signal) => {
      this.exitError = new Error(`${name} host exited (code ${code}, signal ${signal})`);
      this.waiting?.({ type: "error", message: this.exitError.message });
    });
  }

  async ask<T extends HostReply["type"]>(
    command: HostCommand,
    expect: T,
    timeoutMs: number,
  ): Promise<Extract<HostReply, { type: T }>> {
    this.child.send(command);
    const reply = await new Promise<HostReply>((resolve, reject) => {
      const queued = this.replies.shift();
      if (queued) return resolve(queued);
      if (this.exitError) return reject(this.exitError);
      const timer = setTimeout(
        () => reject(new Error(`${this.name} host: no ${expect} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiting = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
    if (reply.type === "error") throw new Error(`${this.name} host: ${reply.message}`);
    if (reply.type !== expect) throw new Error(`${this.name} host: expected ${expect}, got ${reply.type}`);
    return reply as Extract<HostReply, { type: T }>;
  }

  close(): void {
    if (this.child.connected) this.child.disconnect();
    this.child.kill("SIGTERM");
  }
}

function percentiles(values: ReadonlyArray<number | null>): Percentiles {
  const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  const r = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);
  return {
    p50: r(quantile(sorted, 0.5)),
    p99: r(quantile(sorted, 0.99)),
    max: r(sorted.length ? sorted[sorted.length - 1]! : null),
  };
}

function perStream(m: HostMeasurement, streams: number) {
  const packets = m.packetsSent + m.packetsReceived;
  return {
    cpuPercentPerStream: Math.round((m.cpuPercent / streams) * 1000) / 1000,
    cpuMicrosPerPacket:
      packets > 0 ? Math.round(((m.userSeconds + m.systemSeconds) / packets) * 1e6 * 10) / 10 : null,
  };
}

async function runOnce(streams: number, o: RtpStreamsOptions): Promise<RtpStreamsRun> {
  const probeIp = uniqueLoopback();
  const mirrorIp = uniqueLoopback();
  const probe = new Host("probe");
  const mirror = new Host("mirror");
  try {
    const openTimeout = 10_000 + streams * 100;
    const mirrors = await mirror.ask(
      { type: "open", role: "mirror", count: streams, ip: mirrorIp },
      "opened",
      openTimeout,
    );
    const probes = await probe.ask(
      { type: "open", role: "probe", count: streams, ip: probeIp },
      "opened",
      openTimeout,
    );
    const warmupMs = o.warmupSeconds * 1000;
    const measureMs = o.measureSeconds * 1000;
    // Only against a host that hangs: a starved host's timers fire seconds late, so be generous.
    const deadline = (warmupMs + measureMs) * 3 + 60_000;
    // The mirrors start first and stop last, so that every probe frame has someone to answer it.
    const mirrorResult = mirror.ask(
      { type: "run", remoteIp: probeIp, remotePorts: probes.ports, warmupMs, measureMs, tailMs: 600 },
      "result",
      deadline,
    );
    const probeResult = probe.ask(
      { type: "run", remoteIp: mirrorIp, remotePorts: mirrors.ports, warmupMs, measureMs, tailMs: 0 },
      "result",
      deadline,
    );
    const [p, m] = await Promise.all([probeResult, mirrorResult]);
    return {
      streams,
      probe: probeSide(p.measurement, p.sessions, streams),
      mirror: mirrorSide(m.measurement, m.sessions, streams),
    };
  } finally {
    probe.close();
    mirror.close();
  }
}

function probeSide(m: HostMeasurement, sessions: readonly SessionSummary[], streams: number): ProbeSide {
  const shares = sessions
    .map((s) => s.returnedShare)
    .filter((s): s is number => s !== null)
    .sort((a, b) => a - b);
  return {
    ...m,
    ...perStream(m, streams),
    sendClock: {
      medianLateMs: percentiles(sessions.map((s) => s.sendClockMedianLateMs)),
      maxLateMs: percentiles(sessions.map((s) => s.sendClockMaxLateMs)),
    },
    returnedShare: {
      min: shares.length ? Math.round(shares[0]! * 1e4) / 1e4 : null,
      median: shares.length ? Math.round(quantile(shares, 0.5)! * 1e4) / 1e4 : null,
    },
    rttMs: percentiles(sessions.map((s) => s.rttMs)),
    jitterMs: percentiles(sessions.map((s) => s.jitterMs)),
    lost: sessions.reduce((sum, s) => sum + s.lost, 0),
  };
}

function mirrorSide(m: HostMeasurement, sessions: readonly SessionSummary[], streams: number): MirrorSide {
  return { ...m, ...perStream(m, streams), lost: sessions.reduce((sum, s) => sum + s.lost, 0) };
}

function slope(runs: readonly RtpStreamsRun[], side: "probe" | "mirror"): number | null {
  const sorted = [...runs].sort((a, b) => a.streams - b.streams);
  const hi = sorted[sorted.length - 1];
  const lo = sorted[sorted.length - 2];
  if (!hi || !lo || hi.streams === lo.streams) return null;
  return Math.round(((hi[side].cpuPercent - lo[side].cpuPercent) / (hi.streams - lo.streams)) * 1000) / 1000;
}

/**
 * For each stream count: N probe sessions in one process against N mirror sessions in another,
 * on loopback, for a warm-up and a measured window; CPU, event-loop delay, send-clock lateness
 * and memory of each side.
 */
export async function runRtpStreams(o: RtpStreamsOptions): Promise<RtpStreamsReport> {
  const runs: RtpStreamsRun[] = [];
  for (const n of o.streams) {
    progress(`rtp streams: ${n} stream(s), ${o.warmupSeconds + o.measureSeconds} s …`);
    runs.push(await runOnce(n, o));
  }
  return {
    benchmark: "rtp-streams",
    setup: {
      streams: o.streams,
      warmupSeconds: o.warmupSeconds,
      measureSeconds: o.measureSeconds,
      topology:
        "N RtpSession(role probe) in one node process, N RtpSession(role mirror) in another, G.711 A-law 20 ms, RTCP every 5 s, loopback",
      note: "CPU is process.cpuUsage() over the measured window, user+sys, in % of one core: everything the process does (timers, sockets, statistics, marker coding, GC). Send-clock lateness covers warm-up and window.",
    },
    runs,
    marginalCpuPercentPerStream: { probe: slope(runs, "probe"), mirror: slope(runs, "mirror") },
  };
}

/** A table for the terminal. */
export function formatRtpStreamsSummary(r: RtpStreamsReport): string {
  const num = (x: number | null, digits = 2) => (x === null ? "–" : x.toFixed(digits));
  const pad = (s: string, n: number) => s.padStart(n);
  const lines = [
    `RTP streams: N probe sessions against N mirrors, each side its own process, ${r.setup.measureSeconds} s measured after ${r.setup.warmupSeconds} s`,
    `  ${"streams".padEnd(11)}${pad("CPU %", 8)}${pad("/stream", 9)}${pad("µs/pkt", 8)}${pad("loop p99/max ms", 17)}${pad("clock late p50/p99/max ms", 27)}${pad("back min", 10)}${pad("RSS MiB", 9)}`,
  ];
  for (const run of r.runs) {
    for (const side of ["probe", "mirror"] as const) {
      const s = run[side];
      const clock =
        side === "probe"
          ? `${num(run.probe.sendClock.medianLateMs.p50)}/${num(run.probe.sendClock.maxLateMs.p99)}/${num(run.probe.sendClock.maxLateMs.max)}`
          : "";
      const back = side === "probe" ? num(run.probe.returnedShare.min, 3) : "";
      lines.push(
        `  ${`${run.streams} ${side}`.padEnd(11)}${pad(num(s.cpuPercent, 1), 8)}${pad(num(s.cpuPercentPerStream, 3), 9)}${pad(num(s.cpuMicrosPerPacket, 1), 8)}${pad(`${num(s.eventLoopDelayMs.p99, 1)}/${num(s.eventLoopDelayMs.max, 1)}`, 17)}${pad(clock, 27)}${pad(back, 10)}${pad(num(s.rssMiB, 0), 9)}`,
      );
    }
  }
  const m = r.marginalCpuPercentPerStream;
  lines.push(`  each further stream: probe ${num(m.probe, 3)} %, mirror ${num(m.mirror, 3)} % of one core`);
  lines.push("  clock late: median of the per-session medians / p99 and max of the per-session maxima");
  return lines.join("\n");
}
