import { monitorEventLoopDelay } from "node:perf_hooks";
import { openRtpPortPair, type RtpPortPair } from "../src/media/rtp-ports.js";
import { type RtpRole, RtpSession } from "../src/media/rtp-session.js";

// One side of the RTP streams benchmark, in a process of its own so that its CPU time is its own:
// N probe sessions (send marked frames, receive the echo, statistics, RTCP) or N mirrors.
// Driven over the IPC channel by bench/rtp-streams.ts.

/** Messages from the benchmark to a host. */
export type HostCommand =
  | {
      readonly type: "open";
      readonly role: Extract<RtpRole, "probe" | "mirror">;
      readonly count: number;
      readonly ip: string;
    }
  | {
      readonly type: "run";
      readonly remoteIp: string;
      readonly remotePorts: readonly number[];
      readonly warmupMs: number;
      readonly measureMs: number;
      /** How long to keep running after the window (a mirror outlives the probes' drain). */
      readonly tailMs: number;
    };

/** Percentiles of a distribution, in ms. */
export interface Percentiles {
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

/** What one session looked like at the end. */
export interface SessionSummary {
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly jitterMs: number;
  readonly returnedShare: number | null;
  readonly rttMs: number | null;
  readonly sendClockMedianLateMs: number | null;
  readonly sendClockMaxLateMs: number | null;
}

/** What a host measured over the window. */
export interface HostMeasurement {
  readonly windowSeconds: number;
  readonly userSeconds: number;
  readonly systemSeconds: number;
  /** CPU time over wall time, in % of one core. */
  readonly cpuPercent: number;
  readonly packetsSent: number;
  readonly packetsReceived: number;
  /**
   * Event-loop delay, ms: how late a 10 ms timer fired (perf_hooks.monitorEventLoopDelay records
   * the time between its ticks, so the 10 ms period is taken off).
   */
  readonly eventLoopDelayMs: Percentiles;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

/** Messages from a host to the benchmark. */
export type HostReply =
  | { readonly type: "opened"; readonly ports: readonly number[] }
  | {
      readonly type: "result";
      readonly measurement: HostMeasurement;
      readonly sessions: readonly SessionSummary[];
    }
  | { readonly type: "error"; readonly message: string };

/** A coarse sampling period keeps the monitor's own timer out of the CPU being measured. */
const ELD_RESOLUTION_MS = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const mib = (bytes: number) => round(bytes / 2 ** 20, 1);

function send(reply: HostReply): void {
  process.send?.(reply);
}

let role: "probe" | "mirror" = "probe";
let pairs: RtpPortPair[] = [];

function counts(sessions: readonly RtpSession[]): { sent: number; received: number } {
  let sent = 0;
  let received = 0;
  for (const s of sessions) {
    const r = s.report();
    sent += r.sent.packets;
    received += r.received.received;
  }
  return { sent, received };
}

async function run(c: Extract<HostCommand, { type: "run" }>): Promise<void> {
  const sessions = pairs.map(
    (ports, i) =>
      new RtpSession({
        ports,
        remote: { address: c.remoteIp, port: c.remotePorts[i]! },
        payloadType: 8,
        role,
      }),
  );
  for (const s of sessions) s.start();
  await sleep(c.warmupMs);

  const delay = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  const before = counts(sessions);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  delay.enable();
  await sleep(c.measureMs);
  delay.disable();
  const used = process.cpuUsage(cpu);
  const wall = (performance.now() - t0) / 1000;
  const after = counts(sessions);
  const rss = process.memoryUsage().rss;

  // Probes stop sending and wait for their last frames; mirrors keep answering meanwhile.
  await Promise.all(sessions.map((s) => s.stop(role === "probe" ? 300 : 0)));
  await sleep(c.tailMs);
  const ms = (ns: number) => round(Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS));
  const measurement: HostMeasurement = {
    windowSeconds: round(wall),
    userSeconds: round(used.user / 1e6),
    systemSeconds: round(used.system / 1e6),
    cpuPercent: round(((used.user + used.system) / 1e6 / wall) * 100, 2),
    packetsSent: after.sent - before.sent,
    packetsReceived: after.received - before.received,
    eventLoopDelayMs: {
      p50: delay.count > 0 ? ms(delay.percentile(50)) : null,
      p99: delay.count > 0 ? ms(delay.percentile(99)) : null,
      max: delay.count > 0 ? ms(delay.max) : null,
    },
    rssMiB: mib(rss),
    peakRssMiB: mib(process.resourceUsage().maxRSS * 1024),
  };
  const summaries: SessionSummary[] = sessions.map((s) => {
    const r = s.report();
    return {
      sent: r.sent.packets,
      received: r.received.received,
      lost: r.received.lost,
      jitterMs: round(r.received.jitterSeconds * 1000),
      returnedShare: r.returned.share,
      rttMs: r.returned.rttMedianSeconds === null ? null : round(r.returned.rttMedianSeconds * 1000),
      sendClockMedianLateMs: r.sendClock.medianLateMs,
      sendClockMaxLateMs: r.sendClock.maxLateMs,
    };
  });
  send({ type: "result", measurement, sessions: summaries });
}

process.on("message", (m: HostCommand) => {
  const step =
    m.type === "open"
      ? (async () => {
          role = m.role;
          pairs = [];
          for (let i = 0; i < m.count; i++) pairs.push(await openRtpPortPair(m.ip));
          send({ type: "opened", ports: pairs.map((p) => p.port) });
        })()
      : run(m);
  step.catch((e: Error) => send({ type: "error", message: e.message }));
});

// The benchmark closing the channel ends the host, whatever state it is in.
process.on("disconnect", () => {
  for (const p of pairs) p.close();
  process.exit(0);
});
