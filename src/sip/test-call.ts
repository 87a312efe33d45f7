import { randomInt } from "node:crypto";
import type { Logger } from "pino";
import { Inviter, SessionState, UserAgent } from "sip.js";
import { digitsDurationMs } from "../media/rtp-session.js";
import { type CallMediaReport, callMediaReport } from "./call-media.js";
import {
  type CallTimings,
  computeTimings,
  countRetransmissions,
  inviteFinalResponse,
  type RetransmissionCounts,
} from "./call-timings.js";
import { type FarEndIdentity, farEndIdentity } from "./far-end.js";
import { HopResolver } from "./next-hop.js";
import { type CallOutcome, classifyCall } from "./outcome.js";
import { type DnsApi, ResolveError, type SipTransportName } from "./resolve.js";
import type { NegotiatedAudio } from "./sdp.js";
import {
  type MediaMode,
  type ProbeSessionDescriptionHandler,
  probeSdhFactory,
} from "./session-description-handler.js";
import { parseSipUri } from "./sip-uri.js";
import { StreamTransport, type TlsSettings } from "./stream-transport.js";
import { monotonicMs, type TraceEntry, wallClockOf } from "./trace.js";
import type { DropReason, SipTransportBase } from "./transport-base.js";
import { UdpTransport } from "./udp-transport.js";
import { createUserAgent } from "./user-agent.js";

/** Header carrying the probe token, so the far end can tell which agent and path called. */
export const PROBE_TOKEN_HEADER = "X-Probe112-Token";

export interface TestCallOptions {
  /** Request-URI, e.g. sip:112@psap.example.net;user=phone. */
  readonly target: string;
  readonly transport: SipTransportName;
  /** Outbound proxy, sent as a preloaded Route. */
  readonly proxy?: string;
  /** From URI; defaults to sip:probe112@<our address>. */
  readonly from?: string;
  readonly fromDisplayName?: string;
  readonly credentials?: { readonly username: string; readonly password: string };
  readonly pAssertedIdentity?: string;
  /** Probe token; ten random digits when absent (digits, so that it can also go in-band). */
  readonly token?: string;
  /** Media check: RFC 6849 loopback with plain-echo fallback (default), plain echo, or none. */
  readonly media?: MediaMode;
  /** Also send the token in-band as RFC 4733 digits after answer (default true with media). */
  readonly dtmfToken?: boolean;
  /** Extra header lines ("Name: value"). */
  readonly headers?: readonly string[];
  readonly holdSeconds: number;
  readonly ringTimeoutSeconds: number;
  readonly timeoutSeconds: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly advertisedAddress?: string;
  readonly family?: 0 | 4 | 6;
  readonly tls?: TlsSettings;
  readonly userAgent?: string;
  readonly logger: Logger;
  readonly dns?: DnsApi;
  /** Aborts the call (agent shutdown): it ends like a timeout, cleanly. */
  readonly signal?: AbortSignal;
  /** Live view of the trace, e.g. for progress output. */
  readonly onTrace?: (entry: TraceEntry) => void;
}

/** A trace entry placed in time relative to the first INVITE, for results and reports. */
export interface CallTraceEntry extends Omit<TraceEntry, "at"> {
  /** Seconds since the first INVITE was sent (negative before it). */
  readonly t: number;
  /** Wall-clock time of the entry. */
  readonly time: string;
}

export interface TestCallResult {
  readonly outcome: CallOutcome;
  readonly reason: string;
  readonly finalStatus: number | null;
  readonly finalReason: string | null;
  readonly target: string;
  readonly transport: SipTransportName;
  readonly proxy: string | null;
  readonly callId: string | null;
  readonly token: string;
  readonly startedAt: string;
  readonly local: string | null;
  readonly remote: string | null;
  readonly timings: CallTimings & {
    /** TCP/TLS connection setup to the first hop, before the INVITE. */
    readonly connect: number | null;
    /** From the start of the test to its end. */
    readonly total: number;
  };
  readonly retransmissions: RetransmissionCounts;
  readonly authChallenges: number;
  readonly hangup: "local" | "remote" | null;
  readonly byeStatus: number | null;
  readonly media: CallMediaReport | null;
  /**
   * The probe succeeded: answered, the session completed, and when media was asked for, our
   * media made the round trip (verdict ok).
   */
  readonly success: boolean;
  /** Seconds the call was held; longer than asked when the in-band token needed the time. */
  readonly holdSeconds: number | null;
  /** What the answering far end said about itself, from its 2xx (null when not answered). */
  readonly farEnd: FarEndIdentity | null;
  readonly dropped: ReadonlyArray<{ readonly reason: DropReason; readonly detail: string }>;
  readonly trace: readonly CallTraceEntry[];
}

const CLEANUP_GRACE_MS = 1000;
/** The in-band token starts this long after answer, once media flows both ways. */
const DTMF_DELAY_MS = 300;
/** Marked audio after the token, so the media check has frames of its own. */
const MEDIA_AFTER_DTMF_MS = 500;
/**
 * How long a UDP call keeps listening after its outcome is known: a lost ACK makes the far end
 * resend its final response at T1 and 2·T1 (Timer G), and only a listening stack re-ACKs it.
 */
const UDP_LINGER_MS = 2000;
const STREAM_LINGER_MS = 300;

/** A call under way: the result as soon as it is known, and when every socket is closed. */
export interface TestCallHandle {
  readonly result: Promise<TestCallResult>;
  readonly settled: Promise<void>;
}

/** Starts one SIP test call; neither promise ever rejects. */
export function startTestCall(opts: TestCallOptions): TestCallHandle {
  return new TestCall(opts).start();
}

/** Places one SIP test call, waits until it is fully torn down, and reports what happened. */
export async function runTestCall(opts: TestCallOptions): Promise<TestCallResult> {
  const call = startTestCall(opts);
  const result = await call.result;
  await call.settled;
  return result;
}

class TestCall {
  private readonly trace: TraceEntry[] = [];
  private readonly dropped: Array<{ reason: DropReason; detail: string }> = [];
  private readonly startedMono = monotonicMs();
  private readonly startedAt = new Date().toISOString();
  private readonly token: string;
  private transport: SipTransportBase | undefined;
  private ua: UserAgent | undefined;
  private inviter: Inviter | undefined;
  private readonly sdhs: ProbeSessionDescriptionHandler[] = [];
  private negotiated: NegotiatedAudio | undefined;
  private connectSeconds: number | null = null;
  private transportError: { message: string; afterAnswer: boolean } | undefined;
  private probeError: string | undefined;
  private timedOut = false;
  /** Stopped from outside (agent shutdown): our decision, never the provider's failure. */
  private aborted = false;
  private cancelledByUs = false;
  private ringTimedOut = false;
  private hangup: "local" | "remote" | null = null;
  private byeSent = false;
  private byeDone = false;
  private answered = false;
  private dtmfSent: string | null = null;
  private heldSeconds: number | null = null;
  private finish: () => void = () => {};
  private readonly done = new Promise<void>((resolve) => {
    this.finish = resolve;
  });
  private readonly timers: NodeJS.Timeout[] = [];
  private placing: Promise<void> | undefined;
  /** Set once the outcome is decided: a still-running setup must not go on to place the call. */
  private ending = false;
  private readonly log: Logger;

  constructor(private readonly opts: TestCallOptions) {
    this.token = opts.token ?? randomDigits(10);
    this.log = opts.logger.child({ token: this.token });
  }

  start(): TestCallHandle {
    const decided = this.execute();
    const settled = decided.then(() => this.release());
    // The outcome is fixed when the call ends, but the linger exists to catch a resent final
    // response (and to re-ACK it): the report must include what crossed the wire meanwhile.
    const result = settled.then(() => decided.then((r) => this.withLateMessages(r)));
    return { result, settled };
  }

  /** The decided result with the trace, drops and resend counts as they stand after the linger. */
  private withLateMessages(r: TestCallResult): TestCallResult {
    const { trace, retransmissions, dropped } = this.traceView(r.callId);
    return { ...r, trace, retransmissions, dropped };
  }

  private traceView(callId: string | null): Pick<TestCallResult, "trace" | "retransmissions" | "dropped"> {
    const mine = callId
      ? this.trace.filter((e) => e.callId === callId || e.callId === undefined)
      : this.trace;
    const t0 = mine.find((e) => e.direction === "sent" && e.method === "INVITE")?.at ?? this.startedMono;
    return {
      retransmissions: callId ? countRetransmissions(mine, callId) : { sent: {}, received: 0 },
      dropped: [...this.dropped],
      trace: this.trace.map(({ at, ...rest }) => ({
        ...rest,
        t: round((at - t0) / 1000),
        time: wallClockOf(at),
      })),
    };
  }

  private async execute(): Promise<TestCallResult> {
    const deadline = this.startedMono + this.opts.timeoutSeconds * 1000;
    this.after(this.opts.timeoutSeconds * 1000, () => {
      this.timedOut = true;
      this.finish();
    });
    const onAbort = () => {
      this.aborted = true;
      this.finish();
    };
    this.opts.signal?.addEventListener("abort", onAbort, { once: true });
    this.placing = this.place(deadline);
    try {
      await Promise.race([this.placing, this.done]);
      await this.done;
    } catch (e) {
      this.recordFailure(e);
    } finally {
      this.ending = true;
      this.opts.signal?.removeEventListener("abort", onAbort);
      for (const t of this.timers) clearTimeout(t);
    }
    await this.endSession();
    return this.result();
  }

  private after(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, Math.max(0, ms)));
  }

  private async place(deadline: number): Promise<void> {
    const o = this.opts;
    const target = parseSipUri(o.target);
    if (!target) throw new ProbeFault(`target is not a sip: or sips: URI: ${o.target}`);
    const proxy = o.proxy ? parseSipUri(o.proxy) : undefined;
    if (o.proxy && !proxy) throw new ProbeFault(`proxy is not a sip: URI: ${o.proxy}`);
    const resolver = new HopResolver({ dns: o.dns, family: o.family });
    const firstHopUri = proxy ?? target;
    const hop = await resolver.resolve(firstHopUri, o.transport);
    if (this.ending) return;
    const common = {
      logger: this.log.child({ component: "transport" }),
      trace: (e: TraceEntry) => {
        this.trace.push(e);
        o.onTrace?.(e);
      },
      onDrop: (reason: DropReason, detail: string) => this.dropped.push({ reason, detail }),
      resolver,
      family: o.family,
    };
    const connectStart = monotonicMs();
    if (o.transport === "udp") {
      this.transport = new UdpTransport({
        ...common,
        localAddress: o.localAddress,
        localPort: o.localPort,
        advertisedAddress: o.advertisedAddress,
        peerHint: { address: hop.address, port: hop.port },
      });
    } else {
      this.transport = new StreamTransport({
        ...common,
        protocol: o.transport === "tls" ? "TLS" : "TCP",
        peer: { address: hop.address, port: hop.port, host: hop.host },
        localAddress: o.localAddress,
        advertisedAddress: o.advertisedAddress,
        tls: o.tls ?? { verify: true },
        connectTimeoutMs: Math.max(1, deadline - monotonicMs()),
      });
    }
    await this.transport.open();
    if (this.ending) return;
    if (o.transport !== "udp") this.connectSeconds = round((monotonicMs() - connectStart) / 1000);
    const transport = this.transport;
    const contactPort =
      transport instanceof UdpTransport
        ? transport.localAddress.port
        : (transport as StreamTransport).contactPort;
    const mediaAddress = o.advertisedAddress ?? transport.viaHost.replace(/^\[|\]$/g, "");
    this.ua = createUserAgent({
      transport,
      aor: o.from ?? `sip:probe112@${transport.viaHost}`,
      displayName: o.fromDisplayName,
      credentials: o.credentials,
      outboundProxy: o.proxy,
      contactPort,
      sessionDescriptionHandlerFactory: probeSdhFactory(
        {
          mediaAddress,
          mode: o.media ?? "loopback",
          cname: `probe112-${this.token}`,
          onNegotiated: (r) => {
            if (r instanceof Error) this.log.warn({ err: r.message }, "far-end SDP not usable");
            else this.negotiated = r;
          },
        },
        (sdh) => this.sdhs.push(sdh),
      ),
      userAgentString: o.userAgent ?? "probe112",
      logger: this.log,
    });
    this.ua.delegate = {
      onDisconnect: (error?: Error) => {
        if (!error) return;
        this.transportError ??= { message: error.message, afterAnswer: this.answered };
        this.finish();
      },
    };
    await this.ua.start();
    if (this.ending) return;
    this.invite();
    // The ring timeout runs from the INVITE: connection setup is not ringing.
    this.after(o.ringTimeoutSeconds * 1000, () => this.onRingTimeout());
  }

  private invite(): void {
    const o = this.opts;
    const ua = this.ua!;
    const target = UserAgent.makeURI(o.target);
    if (!target) throw new ProbeFault(`SIP stack cannot parse the target URI: ${o.target}`);
    const headers = [`${PROBE_TOKEN_HEADER}: ${this.token}`, ...(o.headers ?? [])];
    if (o.pAssertedIdentity) headers.push(`P-Asserted-Identity: <${o.pAssertedIdentity}>`);
    const inviter = new Inviter(ua, target, {
      extraHeaders: headers,
      ...(o.from
        ? {
            params: { fromUri: o.from, ...(o.fromDisplayName ? { fromDisplayName: o.fromDisplayName } : {}) },
          }
        : {}),
    });
    this.inviter = inviter;
    inviter.delegate = {
      onBye: (bye) => {
        this.hangup ??= "remote";
        bye.accept().catch(() => {});
        this.byeDone = true;
      },
    };
    inviter.stateChange.addListener((state) => {
      if (state === SessionState.Established) {
        this.answered = true;
        this.onAnswered();
      }
      if (state === SessionState.Terminated && (!this.byeSent || this.byeDone)) this.finish();
    });
    inviter
      .invite({
        requestDelegate: {
          onReject: () => this.finish(),
          onRedirect: () => this.finish(),
        },
      })
      .catch((e: Error) => {
        this.recordFailure(e);
        this.finish();
      });
  }

  private onRingTimeout(): void {
    const inviter = this.inviter;
    if (!inviter || this.answered) return;
    if (inviter.state === SessionState.Initial || inviter.state === SessionState.Establishing) {
      this.ringTimedOut = true;
      this.cancelledByUs = true;
      inviter.cancel().catch(() => {});
    }
  }

  /** Schedules the in-band token and the hang-up; the hold stretches to fit the digits. */
  private onAnswered(): void {
    const o = this.opts;
    const mode = o.media ?? "loopback";
    let hold = o.holdSeconds;
    const sdh = this.sdhs[0];
    if (
      mode !== "none" &&
      o.dtmfToken !== false &&
      /^[0-9A-D*#]+$/.test(this.token) &&
      sdh?.negotiated?.telephoneEventPayloadType !== undefined
    ) {
      const digits = `*${this.token}#`;
      this.after(DTMF_DELAY_MS, () => {
        if (sdh.sendDtmf(digits)) this.dtmfSent = digits;
      });
      hold = Math.max(hold, (DTMF_DELAY_MS + digitsDurationMs(digits.length) + MEDIA_AFTER_DTMF_MS) / 1000);
    }
    this.heldSeconds = hold;
    this.after(hold * 1000, () => void this.hangUp());
  }

  private async hangUp(): Promise<void> {
    const inviter = this.inviter;
    if (!inviter || inviter.state !== SessionState.Established) return;
    this.hangup ??= "local";
    // Stop sending media first and let the frames still on the loop come back before the BYE.
    const rtp = this.sdhs[0]?.rtp;
    if (rtp) {
      const rtt = rtp.report().returned.rttMedianSeconds ?? 0;
      await rtp.stop(Math.min(500, Math.max(100, rtt * 3000)));
    }
    if (inviter.state !== SessionState.Established) return;
    this.byeSent = true;
    const settle = () => {
      this.byeDone = true;
      this.finish();
    };
    inviter.bye({ requestDelegate: { onAccept: settle, onReject: settle } }).catch((e: Error) => {
      this.recordFailure(e);
      settle();
    });
  }

  private recordFailure(e: unknown): void {
    const err = e as NodeJS.ErrnoException;
    if (err instanceof ProbeFault) this.probeError ??= err.message;
    else if (err instanceof ResolveError)
      this.transportError ??= { message: err.message, afterAnswer: false };
    else if (err?.code === "ETIMEDOUT") this.timedOut = true;
    else if (isLocalFault(err)) this.probeError ??= err.message;
    else if (err?.name === "SipTransportError" || err?.name === "TransportError" || err?.code) {
      this.transportError ??= { message: err.message, afterAnswer: this.answered };
    } else this.probeError ??= `internal error: ${err?.message ?? String(e)}`;
    this.log.debug({ err: err?.message }, "call step failed");
  }

  /** Ends whatever is still open (CANCEL or BYE), then stops the UA within a short grace. */
  private async endSession(): Promise<void> {
    const inviter = this.inviter;
    try {
      if (
        inviter &&
        (inviter.state === SessionState.Initial || inviter.state === SessionState.Establishing)
      ) {
        this.cancelledByUs = true;
        await inviter.cancel().catch(() => {});
      } else if (inviter?.state === SessionState.Established && this.transport?.isConnected()) {
        this.hangUp();
      }
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, "ending the session");
    }
    // Let what was just handed to the transport reach the wire, so the trace shows it.
    await this.transport?.flush(CLEANUP_GRACE_MS);
  }

  /** Lingers for late retransmissions, then stops the UA and closes every socket. */
  private async release(): Promise<void> {
    await withTimeout(this.placing ?? Promise.resolve(), CLEANUP_GRACE_MS).catch(() => {});
    const transport = this.transport;
    const completed = this.answered && this.byeDone && this.transportError === undefined;
    const heardBack = this.trace.some((e) => e.direction === "received" && e.cseqMethod === "INVITE");
    if (transport?.isConnected() && !completed && heardBack) {
      await sleep(transport.protocol === "UDP" ? UDP_LINGER_MS : STREAM_LINGER_MS);
    }
    try {
      if (this.ua) await withTimeout(this.ua.stop(), CLEANUP_GRACE_MS);
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, "stopping the user agent");
    }
    for (const sdh of this.sdhs) sdh.close();
    if (transport) await withTimeout(transport.disconnect(), CLEANUP_GRACE_MS).catch(() => {});
  }

  private farEnd(callId: string | null): FarEndIdentity | null {
    const ok = this.trace.find(
      (e) =>
        e.callId === callId &&
        e.direction === "received" &&
        e.cseqMethod === "INVITE" &&
        (e.status ?? 0) >= 200 &&
        (e.status ?? 0) < 300 &&
        !e.dropped,
    );
    return ok ? farEndIdentity(ok.message) : null;
  }

  private result(): TestCallResult {
    const o = this.opts;
    const callId = this.inviter?.request.callId ?? null;
    const mine = callId
      ? this.trace.filter((e) => e.callId === callId || e.callId === undefined)
      : this.trace;
    const final = callId ? inviteFinalResponse(mine, callId) : undefined;
    const invitesSent = mine.filter((e) => e.direction === "sent" && e.method === "INVITE").length;
    const byeFinal = [...mine]
      .reverse()
      .find((e) => e.direction === "received" && e.cseqMethod === "BYE" && (e.status ?? 0) >= 200);
    const byeUnanswered = this.hangup === "local" && this.byeSent && !byeFinal && !this.transportError;
    const droppedSummary =
      this.dropped.length > 0
        ? `${this.dropped.length} unusable message(s) from the peer dropped (${[...new Set(this.dropped.map((d) => d.reason))].join(", ")})`
        : undefined;
    const { outcome, reason } = classifyCall({
      inviteFinal: final,
      cancelledByUs: this.cancelledByUs,
      ringTimedOut: this.ringTimedOut,
      ringTimeoutSeconds: o.ringTimeoutSeconds,
      transportError: this.transportError,
      probeError: this.probeError,
      timedOut: this.timedOut,
      aborted: this.aborted,
      timeoutSeconds: o.timeoutSeconds,
      invitesSent,
      byeUnanswered,
      timedOutAfterAnswer: this.timedOut && this.answered && !this.byeDone && this.hangup !== "remote",
      droppedSummary,
    });
    const challenges = mine.filter(
      (e) =>
        e.direction === "received" &&
        (e.status === 401 || e.status === 407) &&
        !e.retransmission &&
        !e.dropped,
    ).length;
    const firstHop = this.trace.find((e) => e.direction === "sent");
    const mode = o.media ?? "loopback";
    const media = this.answered ? callMediaReport(mode, this.sdhs[0], this.dtmfSent) : null;
    return {
      outcome,
      reason,
      finalStatus: final?.status ?? null,
      finalReason: final?.reason ?? null,
      target: o.target,
      transport: o.transport,
      proxy: o.proxy ?? null,
      callId,
      token: this.token,
      startedAt: this.startedAt,
      local: firstHop?.local ?? null,
      remote: firstHop?.remote ?? null,
      timings: {
        ...(callId ? computeTimings(mine, callId) : computeTimings([], "")),
        connect: this.connectSeconds,
        total: round((monotonicMs() - this.startedMono) / 1000),
      },
      authChallenges: challenges,
      hangup: this.answered ? this.hangup : null,
      byeStatus: byeFinal?.status ?? null,
      media,
      success: outcome === "answered" && (mode === "none" || media?.verdict === "ok"),
      holdSeconds: this.answered ? this.heldSeconds : null,
      farEnd: this.farEnd(callId),
      ...this.traceView(callId),
    };
  }
}

/** A fault of the probe's own making (bad input, local resources): never blamed on a provider. */
export class ProbeFault extends Error {
  override readonly name = "ProbeFault";
}

function isLocalFault(e: NodeJS.ErrnoException | undefined): boolean {
  return ["EADDRNOTAVAIL", "EADDRINUSE", "EACCES", "EMFILE", "ENFILE", "ENOBUFS", "EINVAL"].includes(
    e?.code ?? "",
  );
}

function randomDigits(n: number): string {
  return Array.from({ length: n }, () => randomInt(0, 10)).join("");
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([
    p,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref()),
  ]);
}
