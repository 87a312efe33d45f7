import type { BodyAndContentType, SessionDescriptionHandler, SessionDescriptionHandlerFactory } from "sip.js";
import { openRtpPortPair, type RtpPortPair } from "../media/rtp-ports.js";
import { type RtpRole, RtpSession } from "../media/rtp-session.js";
import { sdpOfBody } from "./multipart.js";
import {
  buildAudioSdp,
  LOOPBACK_SOURCE_ATTRIBUTES,
  type NegotiatedAudio,
  negotiateAudio,
  OFFERED_AUDIO,
  parseSdp,
} from "./sdp.js";
import { uriHost } from "./via.js";

/** What a probe asks of the far end's media. */
export type MediaMode = "loopback" | "echo" | "none";

export interface ProbeSdhOptions {
  /** Address to bind media on and to write in c=. */
  readonly mediaAddress: string;
  /**
   * As offerer: "loopback" offers RFC 6849 media loopback (and still verifies a plain echo when
   * the far end does not mirror), "echo" offers plain audio and expects it back, "none" sends no
   * media. As answerer: "loopback"/"echo" mirror what arrives, "none" stays silent.
   */
  readonly mode: MediaMode;
  readonly cname?: string;
  /** Called once the far end's SDP has been understood (or rejected). */
  readonly onNegotiated?: (result: NegotiatedAudio | Error) => void;
  /** Digits received in-band (RFC 4733). */
  readonly onDigit?: (digit: string) => void;
}

type SignalingState = "stable" | "has-local-offer" | "has-remote-offer" | "closed";

/**
 * Plain-RTP session description handler (SIP.js ships only a WebRTC one): offers G.711 A-law,
 * µ-law and telephone-event on a real port pair, optionally RFC 6849 loopback, understands
 * answers (multipart included) and runs the RTP session once offer and answer are complete.
 */
export class ProbeSessionDescriptionHandler implements SessionDescriptionHandler {
  private state: SignalingState = "stable";
  private ports: RtpPortPair | undefined;
  private readonly sessionId = Math.floor(Math.random() * 1e9);
  private version = 0;
  private remote: NegotiatedAudio | undefined;
  private session: RtpSession | undefined;
  private answeredLoopback = false;
  private offerer = false;

  constructor(private readonly opts: ProbeSdhOptions) {}

  /** The negotiated far-end media, once known. */
  get negotiated(): NegotiatedAudio | undefined {
    return this.remote;
  }

  /** Our media port, once bound. */
  get localPort(): number | undefined {
    return this.ports?.port;
  }

  /** Our media address and port ("ip:port"), once bound. */
  get localMedia(): string | undefined {
    return this.ports ? `${uriHost(this.opts.mediaAddress)}:${this.ports.port}` : undefined;
  }

  /** The running RTP session, once offer and answer are complete. */
  get rtp(): RtpSession | undefined {
    return this.session;
  }

  /** True when the far end answered our loopback offer as a mirror (RFC 6849). */
  get loopbackConfirmed(): boolean {
    return this.remote?.loopback.role === "mirror";
  }

  async getDescription(): Promise<BodyAndContentType> {
    if (this.state === "closed") throw new Error("session description handler closed");
    this.ports ??= await openRtpPortPair(this.opts.mediaAddress);
    const answering = this.state === "has-remote-offer";
    this.offerer = !answering;
    // A mirror answers a loopback offer as such; a plain offer gets a plain answer (RFC 6849 §4).
    this.answeredLoopback = answering && this.remote?.loopback.role === "source" && this.opts.mode !== "none";
    const extra = answering
      ? this.answeredLoopback
        ? [`loopback:${this.remote?.loopback.type ?? "rtp-media-loopback"}`, "loopback-mirror"]
        : []
      : this.opts.mode === "loopback"
        ? [...LOOPBACK_SOURCE_ATTRIBUTES]
        : [];
    const body = buildAudioSdp({
      address: this.opts.mediaAddress,
      port: this.ports.port,
      sessionId: this.sessionId,
      sessionVersion: this.version++,
      extraAttributes: extra,
      ...(answering && this.remote
        ? {
            payloadTypes: [this.remote.payloadType],
            telephoneEvent: this.remote.telephoneEventPayloadType !== undefined,
          }
        : {}),
    });
    this.state = answering ? "stable" : "has-local-offer";
    if (answering) this.startMedia();
    return { body, contentType: "application/sdp" };
  }

  hasDescription(contentType: string): boolean {
    const type = contentType.toLowerCase().split(";")[0]?.trim();
    return type === "application/sdp" || type === "multipart/mixed";
  }

  async setDescription(body: string): Promise<void> {
    if (this.state === "closed") throw new Error("session description handler closed");
    const answer = this.state === "has-local-offer";
    try {
      const sdp = sdpOfBody(body);
      if (!sdp) throw new Error("no SDP in the message body");
      this.remote = negotiateAudio(parseSdp(sdp), answer ? undefined : OFFERED_AUDIO.map((c) => c.pt));
      this.opts.onNegotiated?.(this.remote);
    } catch (e) {
      this.opts.onNegotiated?.(e as Error);
      throw e;
    }
    this.state = answer ? "stable" : "has-remote-offer";
    if (answer) this.startMedia();
  }

  /** Sends DTMF as RFC 4733 events on the running RTP session; false when that is impossible. */
  sendDtmf(tones: string): boolean {
    if (!this.session || this.remote?.telephoneEventPayloadType === undefined) return false;
    void this.session.sendDigits(tones);
    return true;
  }

  close(): void {
    this.state = "closed";
    void this.session?.stop();
    this.ports?.close();
  }

  private startMedia(): void {
    const remote = this.remote;
    const ports = this.ports;
    if (!remote || !ports || this.session) return;
    // The caller probes; the answering side reflects what it gets (a mirror, or a plain echo).
    const role: RtpRole = this.opts.mode === "none" ? "silent" : this.offerer ? "probe" : "mirror";
    this.session = new RtpSession({
      ports,
      remote: {
        address: remote.address,
        port: remote.port,
        ...(remote.rtcpPort ? { rtcpPort: remote.rtcpPort } : {}),
      },
      payloadType: remote.payloadType,
      codec: remote.codec,
      telephoneEventPayloadType: remote.telephoneEventPayloadType,
      role,
      ...(remote.ptime ? { ptimeMs: remote.ptime } : {}),
      ...(this.opts.cname ? { cname: this.opts.cname } : {}),
      ...(this.opts.onDigit ? { onDigit: this.opts.onDigit } : {}),
    });
    this.session.start();
  }
}

/** A SIP.js factory making one handler per session (and per early dialog). */
export function probeSdhFactory(
  opts: ProbeSdhOptions,
  created?: (sdh: ProbeSessionDescriptionHandler) => void,
): SessionDescriptionHandlerFactory {
  return () => {
    const sdh = new ProbeSessionDescriptionHandler(opts);
    created?.(sdh);
    return sdh;
  };
}
