import dgram from "node:dgram";
import type { BodyAndContentType, SessionDescriptionHandler, SessionDescriptionHandlerFactory } from "sip.js";
import { sdpOfBody } from "./multipart.js";
import { buildAudioSdp, type NegotiatedAudio, negotiateAudio, OFFERED_AUDIO, parseSdp } from "./sdp.js";

/** An RTP/RTCP socket pair on adjacent ports, RTP even (RFC 3550 §11). */
export interface RtpPortPair {
  readonly address: string;
  readonly port: number;
  readonly rtp: dgram.Socket;
  readonly rtcp: dgram.Socket;
  close(): void;
}

/** Binds an even RTP port and the RTCP port above it on `address`. */
export async function openRtpPortPair(address: string, attempts = 32): Promise<RtpPortPair> {
  const type = address.includes(":") ? "udp6" : "udp4";
  const bind = (s: dgram.Socket, port: number) =>
    new Promise<number>((resolve, reject) => {
      s.once("error", reject);
      s.bind(port, address, () => {
        s.off("error", reject);
        resolve(s.address().port);
      });
    });
  for (let i = 0; i < attempts; i++) {
    const rtp = dgram.createSocket(type);
    const port = await bind(rtp, 0);
    if (port % 2 !== 0 || port >= 65535) {
      rtp.close();
      continue;
    }
    const rtcp = dgram.createSocket(type);
    try {
      await bind(rtcp, port + 1);
    } catch {
      rtp.close();
      rtcp.close();
      continue;
    }
    let closed = false;
    return {
      address,
      port,
      rtp,
      rtcp,
      close: () => {
        if (closed) return;
        closed = true;
        rtp.close();
        rtcp.close();
      },
    };
  }
  throw new Error(`no free RTP port pair on ${address} after ${attempts} attempts`);
}

export interface ProbeSdhOptions {
  /** Address to bind media on and to write in c=. */
  readonly mediaAddress: string;
  /** Called once the far end's SDP has been understood (or rejected). */
  readonly onNegotiated?: (result: NegotiatedAudio | Error) => void;
}

type SignalingState = "stable" | "has-local-offer" | "has-remote-offer" | "closed";

/**
 * Plain-RTP session description handler (SIP.js ships only a WebRTC one): offers G.711 A-law,
 * µ-law and telephone-event on a real port pair, and understands answers, multipart included.
 */
export class ProbeSessionDescriptionHandler implements SessionDescriptionHandler {
  private state: SignalingState = "stable";
  private ports: RtpPortPair | undefined;
  private readonly sessionId = Math.floor(Math.random() * 1e9);
  private version = 0;
  private remote: NegotiatedAudio | undefined;
  private received = 0;

  constructor(private readonly opts: ProbeSdhOptions) {}

  /** The negotiated far-end media, once known. */
  get negotiated(): NegotiatedAudio | undefined {
    return this.remote;
  }

  /** Our media port, once bound. */
  get localPort(): number | undefined {
    return this.ports?.port;
  }

  /** RTP datagrams that reached our port (evidence that media flows towards us). */
  get packetsReceived(): number {
    return this.received;
  }

  async getDescription(): Promise<BodyAndContentType> {
    if (this.state === "closed") throw new Error("session description handler closed");
    if (!this.ports) {
      this.ports = await openRtpPortPair(this.opts.mediaAddress);
      this.ports.rtp.on("message", () => {
        this.received++;
      });
      this.ports.rtp.on("error", () => {});
      this.ports.rtcp.on("error", () => {});
    }
    const answering = this.state === "has-remote-offer";
    const body = buildAudioSdp({
      address: this.opts.mediaAddress,
      port: this.ports.port,
      sessionId: this.sessionId,
      sessionVersion: this.version++,
      ...(answering && this.remote
        ? {
            payloadTypes: [this.remote.payloadType],
            telephoneEvent: this.remote.telephoneEventPayloadType !== undefined,
          }
        : {}),
    });
    this.state = answering ? "stable" : "has-local-offer";
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
  }

  sendDtmf(): boolean {
    return false;
  }

  close(): void {
    this.state = "closed";
    this.ports?.close();
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
