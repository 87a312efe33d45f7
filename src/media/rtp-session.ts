import { randomInt } from "node:crypto";
import type dgram from "node:dgram";
import { isIP, SocketAddress } from "node:net";
import { performance } from "node:perf_hooks";
import { decodeG711 } from "./g711.js";
import { findMarkers, markerPayload } from "./probe-payload.js";
import { type ReceiveSnapshot, ReceiveStats } from "./receive-stats.js";
import {
  decodeRtcp,
  encodeBye,
  encodeReport,
  encodeSdes,
  ntpFromUnixMs,
  ntpMiddle,
  type ReportBlock,
} from "./rtcp-packet.js";
import { decodeRtp, encodeRtp, looksLikeRtcp, type RtpDecodeError } from "./rtp-packet.js";
import type { RtpPortPair } from "./rtp-ports.js";
import { DtmfReceiver, scheduleDigits } from "./telephone-event.js";

/** What the session does with its media. */
export type RtpRole =
  /** Send marked frames and recognise them when they come back (the calling probe). */
  | "probe"
  /** Send back what arrives, with our own header (RFC 6849 mirror, or plain echo). */
  | "mirror"
  /** Send nothing; only receive and count. */
  | "silent";

export interface RtpSessionOptions {
  readonly ports: RtpPortPair;
  readonly remote: { readonly address: string; readonly port: number; readonly rtcpPort?: number };
  readonly payloadType: number;
  /** G.711 law of the payload type (static 8/0, or a dynamic type mapped to one). */
  readonly codec?: "PCMA" | "PCMU";
  readonly telephoneEventPayloadType?: number | undefined;
  readonly role: RtpRole;
  readonly ptimeMs?: number;
  readonly cname?: string;
  /** First RTCP report after this many ms, then every `rtcpIntervalMs`. */
  readonly firstRtcpMs?: number;
  readonly rtcpIntervalMs?: number;
  /** Called for every digit received as RFC 4733 events. */
  readonly onDigit?: (digit: string) => void;
}

/** Counts of received datagrams we refused or could not use. */
export interface RtpRejects {
  readonly unexpectedSource: number;
  readonly unexpectedSsrc: number;
  readonly wrongPayloadType: number;
  readonly malformedRtp: number;
  readonly malformedRtcp: number;
}

export interface RtpReport {
  readonly role: RtpRole;
  readonly payloadType: number;
  readonly local: string;
  readonly remote: string;
  readonly sent: { readonly packets: number; readonly octets: number; readonly markedFrames: number };
  /** Statistics of the main stream received (the first SSRC seen). */
  readonly received: ReceiveSnapshot;
  readonly rejects: RtpRejects;
  /** Our marked frames that came back: how many, which share, and how long the round trip took. */
  readonly returned: {
    readonly frames: number;
    readonly share: number | null;
    readonly rttMedianSeconds: number | null;
    readonly rttMaxSeconds: number | null;
  };
  /** What RTCP said: round-trip time (RFC 3550 §6.4.1) and the far end's view of our stream. */
  readonly rtcp: {
    readonly reportsReceived: number;
    readonly rttSeconds: number | null;
    readonly farEnd: {
      readonly fractionLost: number;
      readonly cumulativeLost: number;
      readonly jitterSeconds: number;
    } | null;
  };
  readonly dtmfReceived: string;
  /** How late the 20 ms send clock fired, in ms, and frames skipped after long stalls. */
  readonly sendClock: {
    readonly medianLateMs: number | null;
    readonly maxLateMs: number | null;
    readonly skippedFrames: number;
  };
}

const MAX_TRACKED_FRAMES = 4096;
/** Overdue frames sent at once after a stall; older ones are skipped (a silence gap). */
const MAX_CATCH_UP = 5;
/** In-band digits: 60 ms of tone (long enough for a gateway to regenerate it), 40 ms pause. */
const DTMF_TONE_MS = 60;
const DTMF_GAP_MS = 40;

/** How long sending `count` digits takes, in ms (tone, the end packet resent twice, pause). */
export function digitsDurationMs(count: number, ptimeMs = 20): number {
  return count * (DTMF_TONE_MS + 2 * ptimeMs + DTMF_GAP_MS);
}

/**
 * One RTP session on a bound port pair: a drift-free 20 ms sender, RFC 3550 receive statistics
 * for the far end's stream, RTCP SR/RR with round-trip time, RFC 4733 send and receive, and the
 * probe's own marked frames recognised on the way back. Hostile or stray datagrams are counted,
 * never fatal.
 */
export class RtpSession {
  private readonly ssrc = randomInt(1, 2 ** 32 - 1);
  private readonly tag = randomInt(1, 0xffff);
  private readonly ptime: number;
  private readonly samplesPerFrame: number;
  private readonly stats = new ReceiveStats(8000);
  private readonly dtmf = new DtmfReceiver();
  private readonly sentAt = new Map<number, number>();
  private readonly returnedIdx = new Set<number>();
  private readonly rtts: number[] = [];
  private readonly lateness: number[] = [];
  private readonly rejects = {
    unexpectedSource: 0,
    unexpectedSsrc: 0,
    wrongPayloadType: 0,
    malformedRtp: 0,
    malformedRtcp: 0,
  };
  private primarySsrc: number | undefined;
  /** Another address of the far end, sending from its negotiated port (see fromRemote). */
  private latchedIp: string | undefined;
  private seq = randomInt(0, 0xffff);
  private readonly tsBase = randomInt(0, 2 ** 32 - 1);
  private frame = 0;
  private markedFrames = 0;
  private skippedFrames = 0;
  private packets = 0;
  private octets = 0;
  private clockStart = 0;
  private timer: NodeJS.Timeout | undefined;
  private rtcpTimer: NodeJS.Timeout | undefined;
  private running = false;
  private events: Array<{ atFrame: number; eventStart: number; marker: boolean; payload: Buffer }> = [];
  private lastSrMiddle = 0;
  /** The previous received payload, decoded: a shifted marker spans it and the next one. */
  private previousAudio: Int16Array = new Int16Array(0);
  private lastSrArrival = 0;
  private reportsReceived = 0;
  private rtcpRtt: number | null = null;
  private farEnd: RtpReport["rtcp"]["farEnd"] = null;

  /** Static payload type of the G.711 law in use, for the marker codec. */
  private readonly law: 0 | 8;
  private readonly remoteIp: string;

  constructor(private readonly opts: RtpSessionOptions) {
    this.law = (opts.codec ?? (opts.payloadType === 0 ? "PCMU" : "PCMA")) === "PCMU" ? 0 : 8;
    this.remoteIp = canonicalIp(opts.remote.address);
    this.ptime = opts.ptimeMs ?? 20;
    this.samplesPerFrame = (8000 * this.ptime) / 1000;
    opts.ports.rtp.on("message", (b, r) => this.onRtp(b, r));
    opts.ports.rtcp.on("message", (b, r) => this.onRtcp(b, r));
    // Whoever closes the sockets ends the session: no timer may send on a closed socket.
    opts.ports.rtp.once("close", () => this.halt());
  }

  private halt(): void {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.rtcpTimer);
  }

  /** Starts the send clock (probe and silent roles send RTCP; mirror replies as packets come). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.clockStart = performance.now();
    if (this.opts.role === "probe") this.scheduleFrame();
    this.rtcpTimer = setTimeout(() => this.sendRtcpLoop(), this.opts.firstRtcpMs ?? 1000);
  }

  /**
   * Sends digits as RFC 4733 events in place of audio frames; resolves once the last end packet is
   * out. Resolves false when telephone-event was not negotiated.
   */
  sendDigits(digits: string): Promise<boolean> {
    const pt = this.opts.telephoneEventPayloadType;
    if (pt === undefined || this.opts.role !== "probe" || !this.running) return Promise.resolve(false);
    const first = this.frame + 1;
    const schedule = scheduleDigits(digits, {
      ptimeMs: this.ptime,
      toneMs: DTMF_TONE_MS,
      gapMs: DTMF_GAP_MS,
    });
    const base = this.tsBase + first * this.samplesPerFrame;
    this.events = schedule.map((p) => ({
      atFrame: first + Math.round(p.atMs / this.ptime),
      eventStart: base + p.eventStart,
      marker: p.marker,
      payload: p.payload,
    }));
    const lastFrame = this.events[this.events.length - 1]?.atFrame ?? first;
    return new Promise((resolve) => {
      const check = setInterval(() => {
        if (this.frame > lastFrame || !this.running) {
          clearInterval(check);
          resolve(true);
        }
      }, this.ptime);
    });
  }

  /** Stops sending, waits `drainMs` for frames still on their way back, sends RTCP BYE. */
  async stop(drainMs = 0): Promise<void> {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (drainMs > 0) await new Promise((r) => setTimeout(r, drainMs));
    this.running = false;
    clearTimeout(this.rtcpTimer);
    this.sendRtcp(true);
  }

  report(): RtpReport {
    const sortedRtt = [...this.rtts].sort((a, b) => a - b);
    const sortedLate = [...this.lateness].sort((a, b) => a - b);
    const pct = (xs: number[], p: number) =>
      xs.length ? xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : null;
    return {
      role: this.opts.role,
      payloadType: this.opts.payloadType,
      local: hostPort(this.opts.ports.address, this.opts.ports.port),
      remote: hostPort(this.opts.remote.address, this.opts.remote.port),
      sent: { packets: this.packets, octets: this.octets, markedFrames: this.markedFrames },
      received: this.stats.snapshot(),
      rejects: { ...this.rejects },
      returned: {
        frames: this.returnedIdx.size,
        share: this.markedFrames > 0 ? this.returnedIdx.size / this.markedFrames : null,
        rttMedianSeconds: sec(pct(sortedRtt, 0.5)),
        rttMaxSeconds: sec(sortedRtt.length ? sortedRtt[sortedRtt.length - 1]! : null),
      },
      rtcp: { reportsReceived: this.reportsReceived, rttSeconds: this.rtcpRtt, farEnd: this.farEnd },
      dtmfReceived: this.dtmf.digits,
      sendClock: {
        medianLateMs: round3(pct(sortedLate, 0.5)),
        maxLateMs: round3(sortedLate.length ? sortedLate[sortedLate.length - 1]! : null),
        skippedFrames: this.skippedFrames,
      },
    };
  }

  /** Arms the timer for the next frame at its exact slot: drift-free, whatever the timer lag. */
  private scheduleFrame(): void {
    const due = this.clockStart + (this.frame + 1) * this.ptime;
    this.timer = setTimeout(() => this.onClock(), Math.max(0, due - performance.now()));
  }

  private onClock(): void {
    if (!this.running) return;
    const now = performance.now();
    // After a short stall, send the frames that fell due with their own timestamps: jitter, not
    // loss. After a long one, skip all but the last few: a burst would only fall further behind.
    const due = Math.floor((now + 0.5 - this.clockStart) / this.ptime);
    if (due - this.frame > MAX_CATCH_UP) {
      this.skippedFrames += due - this.frame - MAX_CATCH_UP;
      this.frame = due - MAX_CATCH_UP;
    }
    while (this.clockStart + (this.frame + 1) * this.ptime <= now + 0.5) {
      this.frame++;
      this.lateness.push(now - (this.clockStart + this.frame * this.ptime));
      if (this.lateness.length > MAX_TRACKED_FRAMES) this.lateness.shift();
      this.sendFrame(this.frame);
    }
    this.scheduleFrame();
  }

  private sendFrame(frame: number): void {
    const timestamp = (this.tsBase + frame * this.samplesPerFrame) >>> 0;
    const event = this.events.find((e) => e.atFrame === frame);
    if (event) {
      const packet = {
        payloadType: this.opts.telephoneEventPayloadType!,
        marker: event.marker,
        sequence: this.nextSeq(),
        timestamp: event.eventStart >>> 0,
        ssrc: this.ssrc,
      };
      this.send(encodeRtp(packet, event.payload));
      return;
    }
    const lastEvent = this.events[this.events.length - 1]?.atFrame;
    if (lastEvent !== undefined && frame <= lastEvent + 3) return;
    const payload = markerPayload(this.tag, frame, this.law, this.samplesPerFrame);
    this.sentAt.set(frame, performance.now());
    if (this.sentAt.size > MAX_TRACKED_FRAMES) this.sentAt.delete(this.sentAt.keys().next().value!);
    this.markedFrames++;
    this.send(
      encodeRtp(
        {
          payloadType: this.opts.payloadType,
          // The first frame of a talkspurt carries the marker (RFC 3550 §5.1), after the digits too.
          marker: frame === 1 || (lastEvent !== undefined && frame === lastEvent + 4),
          sequence: this.nextSeq(),
          timestamp,
          ssrc: this.ssrc,
        },
        payload,
      ),
    );
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) & 0xffff;
    return this.seq;
  }

  private send(packet: Buffer): void {
    this.packets++;
    this.octets += packet.length - 12;
    safeSend(this.opts.ports.rtp, packet, this.opts.remote.port, this.opts.remote.address);
  }

  /**
   * SDP may write an address in any textual form (0:0:0:0:0:0:0:1 is ::1): compare canonical
   * forms. Until the SDP address has sent anything, also latch onto another address that sends
   * from the negotiated port: a host with several addresses and a wildcard-bound socket sends
   * from whichever its routing picks, not from its c= line.
   */
  private fromRemote(rinfo: dgram.RemoteInfo, port: number): boolean {
    const a = canonicalIp(rinfo.address);
    if (a === this.remoteIp || a === this.latchedIp) return true;
    if (this.latchedIp === undefined && this.primarySsrc === undefined && rinfo.port === port) {
      this.latchedIp = a;
      return true;
    }
    return false;
  }

  private onRtp(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const at = performance.now();
    if (!this.fromRemote(rinfo, this.opts.remote.port)) {
      this.rejects.unexpectedSource++;
      return;
    }
    if (looksLikeRtcp(buf)) {
      this.onRtcp(buf, rinfo); // RFC 5761 rtcp-mux
      return;
    }
    const p = decodeRtp(buf);
    if (typeof p === "string") {
      this.rejects.malformedRtp++;
      return;
    }
    this.primarySsrc ??= p.ssrc;
    const isEvent = p.payloadType === this.opts.telephoneEventPayloadType;
    if (p.payloadType !== this.opts.payloadType && !isEvent) this.rejects.wrongPayloadType++;
    if (p.ssrc === this.primarySsrc) {
      // Event packets repeat their start timestamp: they count for loss, not for jitter.
      if (this.stats.onPacket(p.sequence, p.timestamp, at, !isEvent) === "duplicate") return;
    } else this.rejects.unexpectedSsrc++;
    if (isEvent) {
      const digit = this.dtmf.onPacket(p.timestamp, p.payload);
      if (digit !== undefined) this.opts.onDigit?.(digit);
      return;
    }
    if (this.opts.role === "mirror" && this.running) {
      const ts = (this.tsBase + p.timestamp) >>> 0;
      this.send(
        encodeRtp(
          {
            payloadType: this.opts.payloadType,
            marker: p.marker,
            sequence: this.nextSeq(),
            timestamp: ts,
            ssrc: this.ssrc,
          },
          p.payload,
        ),
      );
      return;
    }
    if (this.opts.role !== "probe" || p.payloadType !== this.opts.payloadType) return;
    const audio = decodeG711(p.payload, this.law);
    const window = new Int16Array(this.previousAudio.length + audio.length);
    window.set(this.previousAudio);
    window.set(audio, this.previousAudio.length);
    this.previousAudio = audio;
    for (const m of findMarkers(window)) {
      if (m.tag !== this.tag || this.returnedIdx.has(m.index)) continue;
      const sent = this.sentAt.get(m.index);
      if (sent === undefined) continue;
      this.returnedIdx.add(m.index);
      this.rtts.push(at - sent);
      if (this.rtts.length > MAX_TRACKED_FRAMES) this.rtts.shift();
    }
  }

  private onRtcp(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    if (!this.fromRemote(rinfo, this.opts.remote.rtcpPort ?? this.opts.remote.port + 1)) {
      this.rejects.unexpectedSource++;
      return;
    }
    const packets = decodeRtcp(buf);
    if (typeof packets === "string") {
      this.rejects.malformedRtcp++;
      return;
    }
    const arrival = performance.now();
    for (const p of packets) {
      if (p.type !== "sr" && p.type !== "rr") continue;
      this.reportsReceived++;
      if (p.type === "sr") {
        this.lastSrMiddle = ntpMiddle({ seconds: p.sender.ntpSeconds, fraction: p.sender.ntpFraction });
        this.lastSrArrival = arrival;
      }
      const mine = p.reports.find((r) => r.ssrc === this.ssrc);
      if (!mine) continue;
      this.farEnd = {
        fractionLost: mine.fractionLost / 256,
        cumulativeLost: mine.cumulativeLost,
        jitterSeconds: mine.jitter / 8000,
      };
      if (mine.lastSr !== 0) {
        const a = ntpMiddle(ntpFromUnixMs(performance.timeOrigin + arrival));
        const rtt = ((a - mine.lastSr - mine.delaySinceLastSr) >>> 0) / 65536;
        if (rtt < 60) this.rtcpRtt = Math.round(rtt * 1e6) / 1e6;
      }
    }
  }

  private sendRtcpLoop(): void {
    if (!this.running) return;
    this.sendRtcp(false);
    this.rtcpTimer = setTimeout(() => this.sendRtcpLoop(), this.opts.rtcpIntervalMs ?? 5000);
  }

  /** A compound SR (or RR when we sent nothing) + SDES, and BYE when leaving (RFC 3550 §6.1). */
  private sendRtcp(bye: boolean): void {
    const now = performance.now();
    const blocks: ReportBlock[] = [];
    if (this.primarySsrc !== undefined) {
      blocks.push({
        ssrc: this.primarySsrc,
        fractionLost: this.stats.takeFractionLost(),
        cumulativeLost: this.stats.cumulativeLost,
        extendedHighestSequence: this.stats.extendedHighest,
        jitter: this.stats.jitterUnits,
        lastSr: this.lastSrMiddle,
        delaySinceLastSr: this.lastSrMiddle ? Math.round(((now - this.lastSrArrival) / 1000) * 65536) : 0,
      });
    }
    const ntp = ntpFromUnixMs(performance.timeOrigin + now);
    const elapsedSamples = Math.round(((now - this.clockStart) * 8000) / 1000);
    const sender =
      this.packets > 0
        ? {
            ntpSeconds: ntp.seconds,
            ntpFraction: ntp.fraction,
            rtpTimestamp: (this.tsBase + elapsedSamples) >>> 0,
            packetCount: this.packets,
            octetCount: this.octets,
          }
        : undefined;
    const parts = [
      encodeReport(this.ssrc, blocks, sender),
      encodeSdes(this.ssrc, this.opts.cname ?? "probe112"),
    ];
    if (bye) parts.push(encodeBye(this.ssrc));
    const port = this.opts.remote.rtcpPort ?? this.opts.remote.port + 1;
    safeSend(this.opts.ports.rtcp, Buffer.concat(parts), port, this.opts.remote.address);
  }
}

/** An IP address in one canonical text form; IPv4-mapped IPv6 becomes plain IPv4. */
export function canonicalIp(address: string): string {
  const v = isIP(address);
  if (v === 0) return address;
  const a = new SocketAddress({ address, family: v === 6 ? "ipv6" : "ipv4" }).address;
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

/** "ip:port", IPv6 in brackets. */
function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Sends a datagram; a closed socket or a send error is not worth a crash mid-call. */
function safeSend(socket: dgram.Socket, packet: Buffer, port: number, address: string): void {
  try {
    socket.send(packet, port, address, () => {});
  } catch {
    // The socket was closed under us: the session is ending anyway.
  }
}

function sec(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 1000) / 1e6;
}

function round3(x: number | null): number | null {
  return x === null ? null : Math.round(x * 1000) / 1000;
}

export type { RtpDecodeError };
